/**
 * Markdown images in chat text, `![alt](url)`, `![alt](<url>)` or `![alt](url "title")` with an
 * `http(s)://` or `data:image/` URL: found and cut out in one pass. Pure.
 *
 * Chat text is whatever a client sends, as long as the body limit lets it be, in any message, so
 * this is a scanner written by hand rather than a regular expression. The pattern it replaces,
 * `!\[[^[\]\n]{0,500}\]\(\s*<?((?:https?:\/\/|data:image\/)[^\s)>]+)>?(?:\s+"[^"\n]{0,500}")?\s*\)`,
 * let every `![` start a URL run to the end of the text: `"![a](http://"` × 8,000 (96 KB) took
 * 3.3 s of CPU. Here each character is looked at a bounded number of times: alt text stops at the
 * next bracket and is bounded anyway, the white space after a `(` belongs to that `(` alone, and a
 * URL run (with what follows it) is read once and remembered, since every `![` inside it would
 * read the same run to the same end.
 *
 * @module
 */

/** Longest alt text and title read, as in the pattern this replaces. */
const MAX_ALT = 500;
const MAX_TITLE = 500;
/** The schemes an image URL may have, lower case; matched without regard to ASCII case. */
const SCHEMES = ["http://", "https://", "data:image/"];

/** What a text holds once its Markdown images are cut out. */
export interface SplitText {
  /** The images' URLs (or data URIs), in order. */
  images: string[];
  /** The text with each image replaced by one space. */
  rest: string;
}

/** The Markdown images in `text`, and the text without them; linear in the length of `text`. */
export function splitMarkdownImages(text: string): SplitText {
  const images: string[] = [];
  const parts: string[] = [];
  const scanner = new ImageScanner(text);
  let kept = 0;
  for (let at = text.indexOf("!["); at !== -1;) {
    const found = scanner.imageAt(at);
    if (found === undefined) {
      at = text.indexOf("![", at + 1);
      continue;
    }
    images.push(found.url);
    parts.push(text.slice(kept, at), " ");
    kept = found.end;
    at = text.indexOf("![", kept);
  }
  parts.push(text.slice(kept));
  return { images, rest: parts.join("") };
}

/** Reads images at increasing offsets of one text, remembering the last URL run it read. */
class ImageScanner {
  /** The last URL run read, `[from, end)`, and where the image ends if it ends there (or -1). */
  #run = { from: -1, end: -1, imageEnd: -1 };

  constructor(readonly text: string) {}

  /** The image that starts with the `![` at `at`, if one does. */
  imageAt(at: number): { url: string; end: number } | undefined {
    const { text } = this;
    // Alt text: up to MAX_ALT characters, none of them a bracket or a line break, then `](`.
    let i = at + 2;
    const altLimit = Math.min(text.length, i + MAX_ALT);
    while (i < altLimit && !isAltStop(text.charCodeAt(i))) i++;
    if (text[i] !== "]" || text[i + 1] !== "(") return undefined;
    let start = skipSpace(text, i + 2);
    if (text[start] === "<") start++;
    const scheme = SCHEMES.find((s) => startsWithFolded(text, start, s));
    if (scheme === undefined) return undefined;
    const run = this.#urlRun(start);
    if (run.end - start <= scheme.length || run.imageEnd === -1) return undefined;
    return { url: text.slice(start, run.end), end: run.imageEnd };
  }

  /**
   * The URL run at `from` (up to white space, `)` or `>`) and where an image ending it ends.
   * Calls come with `from` increasing, so a `from` inside the last run shares its end and tail.
   */
  #urlRun(from: number): { end: number; imageEnd: number } {
    const run = this.#run;
    if (run.from <= from && from <= run.end) return run;
    let end = from;
    while (end < this.text.length && !isUrlStop(this.text.charCodeAt(end))) end++;
    this.#run = { from, end, imageEnd: this.#tail(end) };
    return this.#run;
  }

  /** After a URL ending at `at`: an optional `>`, an optional `"title"`, then `)`. */
  #tail(at: number): number {
    const { text } = this;
    if (text[at] === ">") at++;
    const spaced = skipSpace(text, at);
    if (text[spaced] === ")") return spaced + 1;
    if (spaced === at || text[spaced] !== '"') return -1;
    let close = spaced + 1;
    const titleLimit = Math.min(text.length, close + MAX_TITLE);
    while (close < titleLimit && text[close] !== '"' && text[close] !== "\n") close++;
    if (text[close] !== '"') return -1;
    const after = skipSpace(text, close + 1);
    return text[after] === ")" ? after + 1 : -1;
  }
}

/** Whether `text` at `at` reads `lower`, ASCII letters in either case (as a `/i` pattern reads). */
function startsWithFolded(text: string, at: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) {
    const c = text.charCodeAt(at + k);
    if ((c >= 0x41 && c <= 0x5a ? c + 0x20 : c) !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/** `[`, `]` or a line feed: what alt text may not hold. */
function isAltStop(c: number): boolean {
  return c === 0x5b || c === 0x5d || c === 0x0a;
}

/** White space, `)` or `>`: what ends a URL. */
function isUrlStop(c: number): boolean {
  return c === 0x29 || c === 0x3e || isSpace(c);
}

/** Where the run of white space at `from` ends. */
function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** JavaScript's `\s`: ECMAScript's WhiteSpace and LineTerminator code points. */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 ||
    c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}
