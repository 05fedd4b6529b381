/**
 * Text made safe to put into a Markdown answer: whatever it holds is shown as the characters it
 * is, never as a link, an image, emphasis, code or HTML. Chat answers carry text that came from
 * the user's prompt, an LLM's rewrite of it or an upstream error message, and the apps render
 * answers as Markdown (several with HTML enabled): a `[x](javascript:…)` in a prompt must not
 * become a live link, nor `<img onerror=…>` an element. Pure.
 *
 * CommonMark lets a backslash escape any ASCII punctuation, and every renderer the clients use
 * (react-markdown, markdown-it, marked) honours it; characters that only matter at the start of a
 * line are escaped there. Line breaks become spaces, so the text stays one paragraph.
 *
 * @module
 */

/** Punctuation that opens links, images, emphasis, code, HTML, entities, tables or strikethrough. */
const INLINE = /[\\`*_[\]<>&|~]/g;
/** What opens a block at the start of a line: a heading, quote, list item, rule or setext line. */
const LINE_START = /^(\s*)([#>+=-]|\d+[.)])/;

/** `text` as literal Markdown text on one line. */
export function escapeMarkdown(text: string): string {
  // Each run of white space is matched once: `\s*[\r\n]+\s*` would rescan a long run per start.
  const flat = text.replace(/\s+/g, (run) => (/[\r\n]/.test(run) ? " " : run));
  // The mark's last character is the one that opens the block: `#`, `-`, or the `.` of `1.`.
  return flat.replace(INLINE, (c) => `\\${c}`).replace(
    LINE_START,
    (_, space: string, mark: string) => `${space}${mark.slice(0, -1)}\\${mark.slice(-1)}`,
  );
}

/**
 * A link as a Markdown link target: a valid http(s) URL in its normalised form (spaces, `<`, `>`
 * and quotes percent-encoded by the URL parser), with `(` and `)` encoded too, so it cannot close
 * the link and start Markdown or HTML of its own; `undefined` for anything else.
 */
export function markdownLinkTarget(link: string): string | undefined {
  if (!URL.canParse(link)) return undefined;
  const url = new URL(link);
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  return url.href.replace(/[()]/g, (c) => (c === "(" ? "%28" : "%29"));
}
