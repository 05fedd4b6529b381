/**
 * Flags written in a chat prompt: `--name value` (or `—name`, since iOS "smart punctuation" turns
 * `--` into `—`) and seed project #3's `pic:2` and `seed:42`. Owns the flag names and their
 * aliases, the syntax of each value, and where a negative prompt ends; which flag beats a
 * plain-text ratio, and what is left of the prompt, is `parsePromptFlags()`'s business.
 *
 * A flag counts only where it stands as a word of its own (`FLAG_BEFORE`, `END`): `a cat pic:2`,
 * `一只猫pic:2` and `(pic:2)` read, while `me@pic:4`, `user.pic:2`, `a/seed:3`, `pic:2x` are text.
 *
 * @module
 */
import type { Ratio } from "./prompt_ratios.ts";
import type { Range } from "./text_cleanup.ts";

/** The values flags set. Fields are present only when found. */
export interface FlagValues {
  /** An aspect ratio asked for. */
  ratio?: Ratio;
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

type Field = "ratio" | "size" | "seed" | "steps" | "cfg" | "n" | "negativePrompt";

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

/** CJK characters: Chinese and Japanese put no space between words, so a flag may follow one. */
const CJK =
  String.raw`\u2E80-\u2FDF\u3005-\u3007\u3040-\u318F\u31A0-\u31FF\u3400-\u4DBF\u4E00-\u9FFF` +
  String.raw`\uAC00-\uD7AF\uF900-\uFAFF`;
/** CJK and full-width punctuation that ends a word: `、。〈〉《》「」『』【】〔〕…“”‘’！（），：；？［］｛｝`. */
const CJK_PUNCT = String.raw`\u3000-\u3002\u3008-\u3011\u3014-\u301B\u301D-\u301F\u2018\u2019` +
  String.raw`\u201C\u201D\u2026\uFF01\uFF02\uFF07-\uFF09\uFF0C\uFF1A\uFF1B\uFF1F\uFF3B\uFF3D` +
  String.raw`\uFF5B\uFF5D\uFF5F-\uFF64`;
/**
 * Where a flag may start: at the start of the text or after a space, a CJK character or CJK
 * punctuation, an ASCII bracket or quote, a comma or a semicolon. An allow-list, so that whatever
 * glues words together (a letter or digit of any script, `@ . / : _ - # & = + ~`, `<!--`) keeps a
 * flag-like run inside its word: `me@pic:4`, `user.pic:2`, `x_pic:2`, `a--b` are text.
 */
const FLAG_BEFORE = String.raw`(?<=^|[\s"'\x60()[\]{},;${CJK}${CJK_PUNCT}])`;
const FLAG_AT = String.raw`${FLAG_BEFORE}(?:--|—)`;
const flagStart = (before: string) =>
  String.raw`${before}(?:--|—)([a-z][\w-]*)|${before}(pic|seed)(?=[ \t]*[:：])`;
const FLAG_START = new RegExp(flagStart(FLAG_BEFORE), "gi");
/**
 * `FLAG_START` right where a flag just removed ends. Once that flag is gone, the next one stands
 * as a word of its own (`--seed 1--seed 2` reads both), so it is tried there without the
 * look-behind.
 */
const FLAG_AFTER_CUT = new RegExp(flagStart(""), "iy");
const NEG_STOP = new RegExp(
  String.raw`\n|${FLAG_AT}[a-z]|${FLAG_BEFORE}(?:pic|seed)[ \t]*[:：][ \t]*-?\d`,
  "gi",
);
const SEP = String.raw`(?:[ \t]*[=:：][ \t]*|[ \t]+)`;
const SEP_AT = new RegExp(SEP, "y");
/** What a negative prompt written without quotes does not end with. */
const NEG_TRAILING = /[\s,，、;；]/;
/**
 * A value ends at a space, punctuation or the end of the text, not where a word, a longer number
 * or a symbol that glues words would go on: `42abc`, `2x`, `4.5`, `2@x`, `2/b` are not a value.
 * A CJK character ends it too (`pic:2一只猫`). `-` followed by `-` may, for `--seed 1--seed 2`.
 */
const END = String.raw`(?![\w@#&=+~/\\]|[.,:：×*-]\d)`;
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

/**
 * Reads the flags in `work` (`text` with URLs blanked, so of the same length) into values, and the
 * ranges they take, in order and without overlap. Repeated flags: the last wins. A flag whose value
 * does not parse is skipped and stays in the prompt.
 */
export function readFlags(work: string, text: string): { flags: FlagValues; cuts: Range[] } {
  const flags: FlagValues = {};
  const cuts: Range[] = [];
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
  return { flags, cuts };
}

/** Reads a flag's value at `from` into `flags`; returns where it ends, or nothing if malformed. */
function readValue(
  field: Exclude<Field, "negativePrompt">,
  work: string,
  from: number,
  flags: FlagValues,
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
  read(from: number, flags: FlagValues): number | undefined {
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
