/**
 * Flags and aspect ratios written in a chat prompt (`--ar 16:9`, `pic:2`, `9:16比例`, `横屏`, …),
 * read into plain values for the chat route. Pure: no I/O.
 *
 * - **Flags** are removed from the prompt: `--ar`/`--aspect` (`16:9`, `16：9`, `16/9`, `16x9`),
 *   `--size` (`1024x768`, `1024*768`, `1024×768`), `--seed`, `--steps`, `--cfg` (alias
 *   `--guidance`: one field, which the caller maps to the model's own `cfg` or `guidance_scale`),
 *   `--n`/`--pic`, `--neg`/`--no` (quoted with `"…"`, `“…”`, `'…'`, `「…」`, or else running to the
 *   next flag or the end of the line), and seed project #3's `pic:2`, `pic：2` and `seed:42`.
 *   `—ar` works too (iOS "smart punctuation" turns `--` into `—`). A value that does not parse
 *   (`--steps many`, `--seed 4.5`) leaves the flag in the prompt; one that parses is reported as
 *   written, even `--n 99` or `--seed -1`: the request validator checks ranges and names the value.
 * - **Sizes and ratios in plain text** (`1920x1080`, `16:9`, `9:16比例`, `比例：4:3`, `16比9`,
 *   `in a 16:9 ratio`) are removed with the words glued to them; see `plainRatio()` for how a ratio
 *   is told from a time such as "10:30". Sizes need both sides ≥ 256 ("a 100x100 grid" is not one).
 * - **Keywords** (`square`/`正方形`, `landscape`/`横屏`, `portrait`/`竖屏`, …) set a ratio but stay
 *   in the prompt: they are words the image model understands too.
 * - Text inside URLs (`https://a.b/x?y=16:9`, `data:` URIs) is never read.
 *
 * Repeated flags: the last wins. Priority: a flag beats a plain-text ratio or size, a plain ratio
 * beats a keyword. Both `size` and `ratio` are reported; the caller decides between them.
 *
 * Parsing takes time linear in the text (give or take a log), whatever the text: a chat prompt is
 * untrusted input read on the event loop. Hence text is rebuilt once per pass, never once per match;
 * no pattern lets two unbounded runs of spaces meet; and no `…+$` pattern runs over a long string.
 *
 * @module
 */

/** What a prompt asked for besides the picture itself. Fields are present only when found. */
export interface PromptFlags {
  /** The prompt with flags, sizes and ratio tokens removed; the rest of the wording is kept. */
  prompt: string;
  /** An aspect ratio asked for, as two positive numbers (`16:9` → `{ width: 16, height: 9 }`). */
  ratio?: { width: number; height: number };
  /** An explicit size, normalised to `WxH` (`1024*768` → `"1024x768"`). */
  size?: string;
  seed?: number;
  steps?: number;
  /** `--cfg` or `--guidance`; Kolors calls it `guidance_scale`, Qwen-Image `cfg`. */
  cfg?: number;
  /** Images asked for (`--n 2`, `pic:2`). */
  n?: number;
  negativePrompt?: string;
}

type Ratio = NonNullable<PromptFlags["ratio"]>;
type Field = "ratio" | "size" | "seed" | "steps" | "cfg" | "n" | "negativePrompt";
type Range = [start: number, end: number];
type Found = Omit<PromptFlags, "prompt">;

/** Flag names, lower case with `_` read as `-`, → the field they set. */
const FLAGS: Record<string, Field> = {
  ar: "ratio",
  aspect: "ratio",
  "aspect-ratio": "ratio",
  ratio: "ratio",
  size: "size",
  "image-size": "size",
  seed: "seed",
  steps: "steps",
  step: "steps",
  cfg: "cfg",
  "cfg-scale": "cfg",
  guidance: "cfg",
  "guidance-scale": "cfg",
  n: "n",
  pic: "n",
  neg: "negativePrompt",
  negative: "negativePrompt",
  "negative-prompt": "negativePrompt",
  no: "negativePrompt",
};

/** Stands in for URLs and text already consumed, so later passes skip it; not a word character. */
const FILL = "\uE000";
const URL = /(?:\b(?:https?|ftp|wss?):\/\/|\bwww\.|\bdata:\w+\/[\w.+-]+[;,])[!-~]*/gi;

/** `--name` after a space, a CJK character or punctuation, but not inside `a--b` or `<!--`. */
const FLAG_BEFORE = String.raw`(?<![\w!#$%&*+\-./:=?@\\^|~])`;
/** `pic:`/`seed:` not inside a longer word (`epic:2`, `birdseed:3`). */
const WORD_BEFORE = String.raw`(?<![\w-])`;
const FLAG_AT = String.raw`${FLAG_BEFORE}(?:--|—)`;
const flagStart = (flagBefore: string, wordBefore: string) =>
  String.raw`${flagBefore}(?:--|—)([a-z][\w-]*)|${wordBefore}(pic|seed)(?=[ \t]*[:：])`;
const FLAG_START = new RegExp(flagStart(FLAG_BEFORE, WORD_BEFORE), "gi");
/**
 * `FLAG_START` right where a flag just removed ends. Removed text reads as `FILL`, which neither
 * look-behind refuses (`--seed 1--seed 2` reads both), so it is tried there without them.
 */
const FLAG_AFTER_CUT = new RegExp(flagStart("", ""), "iy");
const NEG_STOP = new RegExp(
  String.raw`\n|${FLAG_AT}[a-z]|${WORD_BEFORE}(?:pic|seed)[ \t]*[:：][ \t]*-?\d`,
  "gi",
);
const SEP = String.raw`(?:[ \t]*[=:：][ \t]*|[ \t]+)`;
const SEP_AT = new RegExp(SEP, "y");
/** What a negative prompt written without quotes does not end with. */
const NEG_TRAILING = /[\s,，、;；]/;
/** A value ends where a word or a longer number would go on: `42abc` and `4.5` are not `4`. */
const END = String.raw`(?!\w|[.,:：/×*]\d)`;
const INT = String.raw`(-?\d+)`;
const VALUES: Record<Exclude<Field, "negativePrompt">, RegExp> = {
  ratio: new RegExp(
    String.raw`${SEP}(\d+(?:\.\d+)?)[ \t]*[:：/xX×][ \t]*(\d+(?:\.\d+)?)${END}`,
    "y",
  ),
  size: new RegExp(String.raw`${SEP}(\d+)[ \t]*[xX×*][ \t]*(\d+)(?:px)?${END}`, "y"),
  seed: new RegExp(SEP + INT + END, "y"),
  steps: new RegExp(SEP + INT + END, "y"),
  n: new RegExp(SEP + INT + END, "y"),
  cfg: new RegExp(String.raw`${SEP}(-?(?:\d+(?:\.\d+)?|\.\d+))${END}`, "y"),
};
const QUOTES: Record<string, string> = {
  '"': '"”',
  "“": '”"',
  "'": "'’",
  "‘": "’'",
  "「": "」",
  "『": "』",
};

const ZH_WORDS = "宽高比|长宽比|画面比例|图片比例|比例|画幅|尺寸|分辨率|大小";
const EN_WORDS = "(?:aspect[ \\t]+)?ratio|aspect|resolution|size";
/** "in", "in a", "in an", each followed by spaces. */
const IN_A = "in[ \\t]+(?:an?[ \\t]+)?";
/** An optional "为", "是", ":" or "=" and the spaces after it. */
const COPULA = "(?:(?:为|是|[:：=])[ \\t]*)?";
/**
 * Words glued to a ratio or size, removed with it: "比例：", "in a … ratio", "…的". Each run of
 * spaces can be split only one way (no `[ \t]*[ \t]*`), so a word followed by thousands of spaces
 * and no number fails in time linear in the spaces instead of cubic. Same strings as the obvious
 * `(?:ZH|(?:IN_A)?EN[ \t]*(?:of|is)?|IN_A)[ \t]*(?:为|是|[:：=])?[ \t]*`.
 */
const BEFORE = `(?:(?:${ZH_WORDS})[ \\t]*${COPULA}|` +
  `(?:${IN_A})?(?:${EN_WORDS})[ \\t]*(?:(?:of|is)[ \\t]*)?${COPULA}|${IN_A}${COPULA})`;
const AFTER = `[ \\t]+(?:${EN_WORDS}|format)(?![a-z])|(?:的?(?:${ZH_WORDS}))?的?`;
/** Not glued to a word, a number or a path before it, nor to a word or a longer number after. */
const ALONE_BEFORE = "(?<![\\w.:：/\\\\])";
const ALONE_AFTER = "(?!\\w|[.:：/]\\d)";
const PLAIN_RATIO = new RegExp(
  `${ALONE_BEFORE}(${BEFORE})?([1-9]\\d?)[:：比]([1-9]\\d?)${ALONE_AFTER}(?:${AFTER})?`,
  "gi",
);
const PLAIN_SIZE = new RegExp(
  `${ALONE_BEFORE}(?:${BEFORE})?(\\d{3,4})[ \\t]*[xX×*][ \\t]*(\\d{3,4})(?:px|像素)?${ALONE_AFTER}` +
    `(?:${AFTER})?`,
  "gi",
);
/** Common tall and wide ratios with a two-digit side; any other `A:BB` reads as a time. */
const TWO_DIGIT_RATIOS = new Set(["9:16", "9:21", "10:16", "16:10"]);
const TIME_BEFORE =
  /(?:(?<![a-z])(?:at|by|until|till|around|before|after|since|from)|@|上午|下午|早上|晚上|凌晨|中午|傍晚|早晨|今晚|明早|今天|明天|时间)[ \t]*$/i;
const TIME_AFTER = /^[ \t]*(?:[ap]\.?m\b\.?|o['’]?clock|点|分钟?|左右|开始|出发|见)/i;
/** Sticky: set `lastIndex` to where the ratio ends. */
const SCALE_AFTER = /[ \t]*(?:scale|replica|还原|复刻|复原)/iy;
/** Sticky: set `lastIndex` to where "square" ends. */
const UNIT_AFTER =
  /[ \t]+(?:met(?:er|re)s?|feet|foot|miles?|kilomet(?:er|re)s?|inch(?:es)?|root)\b/iy;

const KEYWORD =
  /(?<![a-z])(?:square|landscapes?|portraits?|widescreen)(?![a-z])|正方形|(?<!长)方形|方图|横屏|横版|横向|横图|宽屏|竖屏|竖版|竖向|竖图|纵向/gi;
const SQUARE: Ratio = { width: 1, height: 1 };
/** 16:9 and 9:16 are sizes both Qwen-Image (1664x928) and Kolors (720x1280) recommend or near. */
const WIDE: Ratio = { width: 16, height: 9 };
const TALL: Ratio = { width: 9, height: 16 };

/**
 * Reads flags, sizes and ratios out of a prompt; see the module doc for the rules.
 *
 * Three passes (flags, sizes, ratios) each collect the ranges they take, in order and without
 * overlap, then blank them with `FILL` in one go so that later passes skip them. Within a pass
 * nothing reads back into a range it took, except where said (`FLAG_AFTER_CUT`, `plainRatio()`).
 */
export function parsePromptFlags(text: string): PromptFlags {
  let work = text.replace(URL, (url) => FILL.repeat(url.length));
  const removed: Range[] = [];
  const flags: Found = {};

  let cuts: Range[] = [];
  const flagStart = new RegExp(FLAG_START);
  const negative = new NegativeReader(work, text);
  for (let at = 0, afterCut = false;;) {
    let m: RegExpExecArray | null = null;
    if (afterCut) {
      FLAG_AFTER_CUT.lastIndex = at;
      m = FLAG_AFTER_CUT.exec(work);
    }
    if (!m) {
      flagStart.lastIndex = at;
      m = flagStart.exec(work);
    }
    if (!m) break;
    [at, afterCut] = [m.index + m[0].length, false];
    const field = FLAGS[(m[1] ?? m[2]).toLowerCase().replaceAll("_", "-")];
    if (!field) continue;
    const end = field === "negativePrompt"
      ? negative.read(at, flags)
      : readValue(field, work, at, flags);
    if (end === undefined) continue;
    cuts.push([m.index, end]);
    [at, afterCut] = [end, true];
  }
  work = blank(work, cuts, removed);

  let size: string | undefined;
  cuts = [];
  for (const m of work.matchAll(PLAIN_SIZE)) {
    if (Number(m[1]) < 256 || Number(m[2]) < 256) continue;
    size = `${Number(m[1])}x${Number(m[2])}`;
    cuts.push([m.index, m.index + m[0].length]);
  }
  work = blank(work, cuts, removed);

  let ratio: Ratio | undefined;
  cuts = [];
  for (const m of work.matchAll(PLAIN_RATIO)) {
    const found = plainRatio(work, m, cuts.at(-1)?.[1] ?? 0);
    if (!found) continue;
    ratio = found;
    cuts.push([m.index, m.index + m[0].length]);
  }
  work = blank(work, cuts, removed);

  let keyword: Ratio | undefined;
  for (const m of work.matchAll(KEYWORD)) {
    keyword = keywordRatio(work, m) ?? keyword;
  }

  flags.ratio ??= ratio ?? keyword;
  flags.size ??= size;
  const result: PromptFlags = { prompt: removeRanges(text, removed) };
  for (const [field, value] of Object.entries(flags)) {
    if (value !== undefined) Object.assign(result, { [field]: value });
  }
  return result;
}

/** `work` with `cuts` (in order, not overlapping) blanked with `FILL`; adds them to `removed`. */
function blank(work: string, cuts: Range[], removed: Range[]): string {
  if (cuts.length === 0) return work;
  const parts: string[] = [];
  let at = 0;
  for (const [start, end] of cuts) {
    removed.push([start, end]);
    parts.push(work.slice(at, start), FILL.repeat(end - start));
    at = end;
  }
  parts.push(work.slice(at));
  return parts.join("");
}

/** Reads a flag's value at `from` into `flags`; returns where it ends, or nothing if malformed. */
function readValue(
  field: Exclude<Field, "negativePrompt">,
  work: string,
  from: number,
  flags: Found,
): number | undefined {
  const pattern = VALUES[field];
  pattern.lastIndex = from;
  const m = pattern.exec(work);
  if (!m) return undefined;
  if (field === "ratio") {
    const [width, height] = [Number(m[1]), Number(m[2])];
    if (!(width > 0 && height > 0)) return undefined;
    flags.ratio = { width, height };
  } else if (field === "size") {
    flags.size = `${Number(m[1])}x${Number(m[2])}`;
  } else {
    flags[field] = Number(m[1]);
  }
  return pattern.lastIndex;
}

/**
 * `--neg "a, b"` (any of `QUOTES`) or `--neg a, b` up to the next flag or the end of the line.
 * One reader serves a whole flag pass, whose calls come in text order.
 */
class NegativeReader {
  /** Per opening quote: the last search for its closer, as `[from, found]`. */
  #closer = new Map<string, Range>();

  constructor(readonly work: string, readonly text: string) {}

  /** Reads the value at `from` into `flags`; returns where it ends, or nothing if malformed. */
  read(from: number, flags: Found): number | undefined {
    const { work, text } = this;
    SEP_AT.lastIndex = from;
    if (!SEP_AT.test(work)) return undefined;
    const start = SEP_AT.lastIndex;
    const closers = QUOTES[work[start]];
    if (closers) {
      const i = this.#closerOrLineEnd(work[start], closers, start + 1);
      if (i < work.length && work[i] !== "\n") {
        const value = text.slice(start + 1, i).trim();
        if (!value) return undefined;
        flags.negativePrompt = value;
        return i + 1;
      }
    }
    NEG_STOP.lastIndex = start;
    const end = NEG_STOP.exec(work)?.index ?? work.length;
    // A quote that is never closed is dropped: `--neg 'blurry` means "blurry".
    let valueEnd = end;
    const valueStart = closers ? start + 1 : start;
    while (valueEnd > valueStart && NEG_TRAILING.test(text[valueEnd - 1])) valueEnd--;
    if (valueEnd === valueStart) return undefined;
    flags.negativePrompt = text.slice(valueStart, valueEnd);
    return end;
  }

  /**
   * The first closer or line break at or after `from`, or the end of the text. A search that
   * comes up empty is remembered, so `--neg 「` repeated on one line reads that line once, not
   * once per flag: `from` only grows, and `work` past it never changes during the pass.
   */
  #closerOrLineEnd(quote: string, closers: string, from: number): number {
    const last = this.#closer.get(quote);
    if (last && last[0] <= from && from <= last[1]) return last[1];
    let i = from;
    while (i < this.work.length && this.work[i] !== "\n" && !closers.includes(this.work[i])) i++;
    this.#closer.set(quote, [from, i]);
    return i;
  }
}

/**
 * Whether a plain `A:B` (or `A：B`, `A比B`) is an aspect ratio rather than a clock time:
 * - A and B are whole numbers from 1 to 32 without a leading zero ("09:30" and "12:00" are times),
 *   not part of a longer chain ("10:30:45", "1.5:1"); the pattern already ensures that;
 * - B has one digit, which a clock never writes ("16:9", "4:3", "21:9" cannot be times), or the
 *   pair is one of `TWO_DIGIT_RATIOS` (9:16, 9:21, 10:16, 16:10) with no time word beside it
 *   ("at 9:16", "9:16 pm", "上午9:16" are times). So "10:30", "9:30", "1:30", "4:30", "23:59" and
 *   "3:16" are never ratios;
 * - it is not a scale ("1:1 scale", "1:1还原" mean life-size, not square).
 *
 * `taken` is where the last ratio taken in this pass ends: the time words before a ratio are
 * looked for after it only, since the words of a ratio already taken are no longer there.
 */
function plainRatio(work: string, m: RegExpExecArray, taken: number): Ratio | undefined {
  const [width, height] = [Number(m[2]), Number(m[3])];
  const start = m.index + (m[1]?.length ?? 0);
  const end = start + m[2].length + 1 + m[3].length;
  if (width > 32 || height > 32) return undefined;
  SCALE_AFTER.lastIndex = end;
  if (SCALE_AFTER.test(work)) return undefined;
  if (height >= 10) {
    if (!TWO_DIGIT_RATIOS.has(`${width}:${height}`)) return undefined;
    if (TIME_BEFORE.test(work.slice(Math.max(0, start - 12, taken), start))) return undefined;
    if (TIME_AFTER.test(work.slice(end, end + 12))) return undefined;
  }
  return { width, height };
}

/** The ratio a keyword asks for; "Times Square", "town square" and "square meters" ask for none. */
function keywordRatio(work: string, m: RegExpExecArray): Ratio | undefined {
  const word = m[0].toLowerCase();
  if (word === "square") {
    const before = work.slice(Math.max(0, m.index - 30), m.index);
    if (/\b(?:town|city|village|market|public|main|central)[ \t]+$/i.test(before)) return undefined;
    if (m[0][0] === "S" && /[A-Z][\w'’-]*[ \t]+$/.test(before)) return undefined;
    UNIT_AFTER.lastIndex = m.index + m[0].length;
    if (UNIT_AFTER.test(work)) return undefined;
  }
  if (/square|方/.test(word)) return SQUARE;
  if (/landscape|widescreen|横|宽/.test(word)) return WIDE;
  return TALL;
}

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
function removeRanges(text: string, ranges: Range[]): string {
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
