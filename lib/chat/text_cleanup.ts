/**
 * Cutting ranges out of a prompt and tidying the seams they leave: one space where there was
 * space, none before punctuation or at a line's edge, no doubled or dangling comma, no emptied
 * brackets or blank line. `parsePromptFlags()` uses it to remove flags, sizes and ratios while
 * keeping the rest of the wording as the user wrote it.
 *
 * It works on a chat prompt, which is untrusted input read on the event loop: each seam reads and
 * trims only the end of the text built so far, so removing many ranges stays linear in the text.
 *
 * @module
 */

/** A part of a text, from `start` up to but not including `end`. */
export type Range = [start: number, end: number];

/**
 * Stands in, while a prompt is parsed, for text already taken out and for URLs, which are never
 * read. Not a word character, so no later pass takes it for part of a word or a number.
 */
export const FILL = "\uE000";

/** Pairs left empty when what they wrapped is removed ("(16:9)", "**16:9**"): open + close. */
const WRAPPERS = ["()", "（）", "[]", "【】", "「」", "《》", "****", "**", "``", '""', "“”"]
  .map((pair) => [pair.slice(0, pair.length / 2), pair.slice(pair.length / 2)]);
const SEPARATOR = /[,，、;；]$/;

/** Spaces a seam trims, and the punctuation it drops at a line's end or start. */
const SPACE = " \t\u3000";
const LINE_END_PUNCT = ",，、;；:：";
const LINE_START_PUNCT = ",，、;；";

/**
 * Removes `ranges` from `text`, tidying each seam: one space where there was space, none before
 * punctuation or at a line's edge, no doubled or dangling comma, no empty brackets or blank line.
 */
export function removeRanges(text: string, ranges: Range[]): string {
  const merged: Range[] = [];
  for (const [start, end] of ranges.toSorted((a, b) => a[0] - b[0])) {
    const last = merged.at(-1);
    if (last && /^[ \t\u3000]*$/.test(text.slice(last[1], start))) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  const out = new Output();
  out.push(text.slice(0, merged[0]?.[0] ?? text.length));
  for (const [i, [, end]] of merged.entries()) {
    seam(out, text.slice(end, merged[i + 1]?.[0] ?? text.length));
  }
  return out.join().trim();
}

/**
 * Joins `right` onto `out`. Only the end of `out` is read or changed, one character at a time,
 * and only what is removed or what `right` brings is walked over: no pattern scans all of `out`.
 */
function seam(out: Output, right: string): void {
  let r = skip(right, 0, SPACE);
  let spaced = out.trimEnd(SPACE) > 0 || r > 0;
  for (let again = true; again;) {
    again = false;
    for (const [open, close] of WRAPPERS) {
      if (!out.endsWith(open) || !right.startsWith(close, r)) continue;
      out.drop(open.length);
      const trimmed = out.trimEnd(SPACE);
      const closed = r + close.length;
      r = skip(right, closed, SPACE);
      spaced ||= trimmed > 0 || r > closed;
      again = true;
      break;
    }
  }
  right = right.slice(r);
  const atStart = out.empty || out.endsWith("\n");
  const atEnd = right === "" || right.startsWith("\n");
  if (atEnd && out.trimEnd(LINE_END_PUNCT) > 0) out.trimEnd(SPACE);
  if (atStart) {
    const punct = skip(right, 0, LINE_START_PUNCT);
    if (punct > 0) right = right.slice(skip(right, punct, SPACE));
  }
  if (!atStart && !atEnd && SEPARATOR.test(out.tail(1)) && /^[,，、;；.。!！?？]/.test(right)) {
    out.drop(1);
  }
  // A removed line leaves the larger of the line breaks around it, not their sum.
  const after = skip(right, 0, "\n");
  const before = after && out.countEnd("\n", after);
  if (before) right = "\n".repeat(after - before) + right.slice(after);
  const tight = atStart || atEnd || /^[,.;:!?，。；：！？、)\]）】》」』]/.test(right) ||
    /[(\[（【《「『]$/.test(out.tail(1));
  if (spaced && !tight) out.push(" ");
  out.push(right);
}

/** Where the run of `chars` that starts at `from` in `text` ends. */
function skip(text: string, from: number, chars: string): number {
  let i = from;
  while (i < text.length && chars.includes(text[i])) i++;
  return i;
}

/** Text built from parts, joined once; its end can be read and trimmed without copying it all. */
class Output {
  /** Never holds an empty string. */
  #parts: string[] = [];

  get empty(): boolean {
    return this.#parts.length === 0;
  }

  push(part: string): void {
    if (part) this.#parts.push(part);
  }

  /** The last `n` characters, or all of them if fewer. */
  tail(n: number): string {
    let tail = "";
    for (let i = this.#parts.length - 1; i >= 0 && tail.length < n; i--) {
      tail = this.#parts[i].slice(-(n - tail.length)) + tail;
    }
    return tail;
  }

  endsWith(suffix: string): boolean {
    return this.tail(suffix.length) === suffix;
  }

  /** Removes the last `n` characters. */
  drop(n: number): void {
    while (n > 0 && this.#parts.length) {
      const last = this.#parts.pop()!;
      if (last.length > n) this.#parts.push(last.slice(0, -n));
      n -= last.length;
    }
  }

  /** Removes the run of `chars` at the end; returns its length. */
  trimEnd(chars: string): number {
    let trimmed = 0;
    while (this.#parts.length) {
      const last = this.#parts.at(-1)!;
      let i = last.length;
      while (i > 0 && chars.includes(last[i - 1])) i--;
      trimmed += last.length - i;
      if (i === 0) {
        this.#parts.pop();
        continue;
      }
      if (i < last.length) this.#parts[this.#parts.length - 1] = last.slice(0, i);
      break;
    }
    return trimmed;
  }

  /** How many `char`s end the text, counting no further than `max`. */
  countEnd(char: string, max: number): number {
    let count = 0;
    for (let p = this.#parts.length - 1; p >= 0 && count < max; p--) {
      const part = this.#parts[p];
      let i = part.length;
      while (i > 0 && count < max && part[i - 1] === char) [i, count] = [i - 1, count + 1];
      if (i > 0) break;
    }
    return count;
  }

  join(): string {
    return this.#parts.join("");
  }
}
