/**
 * Sizes, aspect ratios and shape keywords written as plain words in a prompt, in English and
 * Chinese: `1920x1080`, `16:9`, `9:16比例`, `比例：4:3`, `16比9`, `in a 16:9 ratio`, `square`/`正方形`,
 * `landscape`/`横屏`, `portrait`/`竖屏`. Apart from the `--flag` syntax because the work here is
 * telling a ratio from what merely looks like one (a time "10:30", a scale "1:1 scale", a place
 * "Times Square") and knowing which words around a number belong to it.
 *
 * Each pass reports the last value it found and the ranges to remove: a size or ratio goes with
 * the words glued to it; a keyword removes nothing, being a word the image model understands too.
 *
 * A bare ratio is a format only where a reader sees one (`readPlainRatio()`): at the end of the
 * prompt ("a city skyline, 16:9"), or next to a ratio word ("比例：4:3", "9:16比例", "in a 16:9
 * ratio") or an image noun ("a 4:3 photo", "16:9的海报"). Elsewhere it is a score or the like ("the
 * match ended 3:2 and fans cheered") and stays text.
 *
 * @module
 */
import { FILL, type Range } from "./text_cleanup.ts";

/** An aspect ratio asked for, as two positive numbers (`16:9` → `{ width: 16, height: 9 }`). */
export interface Ratio {
  width: number;
  height: number;
}

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
 * `(?:ZH|(?:IN_A)?EN[ \t]*(?:of|is)?|IN_A)[ \t]*(?:为|是|[:：=])?[ \t]*`; all but the bare `IN_A`
 * hold a ratio word.
 */
const WORD_BEFORE = `(?:${ZH_WORDS})[ \\t]*${COPULA}|` +
  `(?:${IN_A})?(?:${EN_WORDS})[ \\t]*(?:(?:of|is)[ \\t]*)?${COPULA}`;
const BEFORE = `(?:${WORD_BEFORE}|${IN_A}${COPULA})`;
/** A ratio word after a ratio or size, with the "的" around it; or a bare "的", as in "16:9的海报". */
const WORD_AFTER = `[ \\t]+(?:${EN_WORDS}|format)(?![a-z])|的?(?:${ZH_WORDS})的?`;
const AFTER = `${WORD_AFTER}|的`;
/** Not glued to a word, a number or a path before it, nor to a word or a longer number after. */
const ALONE_BEFORE = "(?<![\\w.:：/\\\\])";
const ALONE_AFTER = "(?!\\w|[.:：/]\\d)";
const PLAIN_RATIO = new RegExp(
  `${ALONE_BEFORE}(?<before>(?<wordBefore>${WORD_BEFORE})|${IN_A}${COPULA})?` +
    `(?<width>[1-9]\\d?)[:：比](?<height>[1-9]\\d?)${ALONE_AFTER}` +
    `(?:(?<wordAfter>${WORD_AFTER})|的)?`,
  "gi",
);
const PLAIN_SIZE = new RegExp(
  `${ALONE_BEFORE}(?:${BEFORE})?(\\d{3,4})[ \\t]*[xX×*][ \\t]*(\\d{3,4})(?:px|像素)?${ALONE_AFTER}` +
    `(?:${AFTER})?`,
  "gi",
);
/**
 * Sticky: image nouns right after a ratio that make it the picture's format, in English ("a 4:3
 * photo", "16:9 wallpapers", also past one word: "a 9:16 phone wallpaper", "a 16:9 cinematic
 * shot") or Chinese, optionally through 的 ("16:9海报", "16:9的海报"). Kept in the prompt: the noun
 * is what to draw. The word between is bounded, so the pattern stays linear.
 */
const NOUN_AFTER = new RegExp(
  "[ \\t]+(?:[a-z]{2,20}[ \\t]+)?(?:photo(?:graph)?|image|picture|pic|poster|wallpaper|shot|frame|screenshot|" +
    "painting|illustration|banner|cover|still|render|portrait|landscape)s?(?![a-z])|" +
    "[ \\t]*(?:的[ \\t]*)?(?:图片|图|海报|壁纸|照片|画面|画|插画|封面|截图|头像)",
  "iy",
);
/**
 * Sticky: what may follow a ratio at the end of a prompt: spaces, punctuation, closing brackets
 * and quotes, Markdown's `*` and `` ` ``, and `FILL`, text already taken out (flags, sizes) or
 * never read (URLs), neither of them wording.
 */
const TRAILING = new RegExp(
  `[\\s.,;:!?)\\]}"'*\`…、。，；：！？）】」』》〉〕〗”’．］｝${FILL}]*`,
  "y",
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

/** The last plain-text size in `work` with both sides ≥ 256 ("a 100x100 grid" is not one). */
export function readPlainSize(work: string): { size?: string; cuts: Range[] } {
  let size: string | undefined;
  const cuts: Range[] = [];
  for (const m of work.matchAll(PLAIN_SIZE)) {
    if (Number(m[1]) < 256 || Number(m[2]) < 256) continue;
    size = `${Number(m[1])}x${Number(m[2])}`;
    cuts.push([m.index, m.index + m[0].length]);
  }
  return { size, cuts };
}

/**
 * The last plain-text ratio in `work` (see `plainRatio()`), and the ranges to remove. A ratio
 * counts where a reader sees a format: next to a ratio word ("比例：4:3", "9:16比例", "16:9 format")
 * or right before an image noun (`NOUN_AFTER`: "a 4:3 photo", "16:9的海报"); or else at the end of
 * the prompt, followed by nothing but `TRAILING` and ratios that count ("a cat, 16:9 or 9:16"
 * reads only 9:16; "a cat (16:9)" and "1:1 1:1" read all). A score mid-sentence stays text.
 *
 * Two passes, each linear: candidates in order, then from the last back, since whether one stands
 * at the end depends on those after it. Each `TRAILING` run stops at the next candidate.
 */
export function readPlainRatio(work: string): { ratio?: Ratio; cuts: Range[] } {
  const found: { cut: Range; value?: Ratio; named: boolean }[] = [];
  let read = 0;
  for (const m of work.matchAll(PLAIN_RATIO)) {
    const value = plainRatio(work, m, read);
    const end = m.index + m[0].length;
    if (value) read = end;
    found.push({ cut: [m.index, end], value, named: value !== undefined && isNamed(work, m, end) });
  }
  let ratio: Ratio | undefined;
  const cuts: Range[] = [];
  let atEnd = trailsOff(work, found.at(-1)?.cut[1] ?? 0, work.length);
  for (let i = found.length - 1; i >= 0; i--) {
    const { cut, value, named } = found[i];
    const taken = value !== undefined && (named || atEnd);
    if (taken) {
      cuts.push(cut);
      ratio ??= value;
    }
    atEnd &&= taken && trailsOff(work, found[i - 1]?.cut[1] ?? 0, cut[0]);
  }
  return { ratio, cuts: cuts.reverse() };
}

/** The ratio asked for by the last shape keyword in `work` that asks for one (`keywordRatio()`). */
export function readKeywordRatio(work: string): Ratio | undefined {
  let keyword: Ratio | undefined;
  for (const m of work.matchAll(KEYWORD)) {
    keyword = keywordRatio(work, m) ?? keyword;
  }
  return keyword;
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
 * Where it stands is `readPlainRatio()`'s business. `read` is where the last ratio read in this
 * pass ends: the time words before a ratio are looked for after it only, since what it ends with
 * (a number or a ratio word) belongs to that ratio, whether it is cut or not.
 */
function plainRatio(work: string, m: RegExpExecArray, read: number): Ratio | undefined {
  const { before = "", width: a, height: b } = m.groups!;
  const [width, height] = [Number(a), Number(b)];
  const start = m.index + before.length;
  const end = start + a.length + 1 + b.length;
  if (width > 32 || height > 32) return undefined;
  SCALE_AFTER.lastIndex = end;
  if (SCALE_AFTER.test(work)) return undefined;
  if (height >= 10) {
    if (!TWO_DIGIT_RATIOS.has(`${width}:${height}`)) return undefined;
    if (TIME_BEFORE.test(work.slice(Math.max(0, start - 12, read), start))) return undefined;
    if (TIME_AFTER.test(work.slice(end, end + 12))) return undefined;
  }
  return { width, height };
}

/** Whether a ratio word or an image noun beside the ratio `m`, which ends at `end`, names it. */
function isNamed(work: string, m: RegExpExecArray, end: number): boolean {
  if (m.groups!.wordBefore !== undefined || m.groups!.wordAfter !== undefined) return true;
  NOUN_AFTER.lastIndex = end;
  return NOUN_AFTER.test(work);
}

/** Whether all of `work` from `from` up to `to` is `TRAILING` text. */
function trailsOff(work: string, from: number, to: number): boolean {
  TRAILING.lastIndex = from;
  TRAILING.test(work);
  return TRAILING.lastIndex >= to;
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
