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
 *   A flag counts only where it stands as a word of its own: after the start of the text, a
 *   space, a CJK character or punctuation, a bracket, a quote or a comma, and with its value
 *   ending at a space, punctuation or the end. `me@pic:4`, `user.pic:2`, `x--seed 1` and `pic:2x`
 *   are text.
 * - **Sizes and ratios in plain text** (`1920x1080`, `16:9`, `9:16比例`, `比例：4:3`, `16比9`,
 *   `in a 16:9 ratio`) are removed with the words glued to them; see `plainRatio()` (in
 *   `prompt_ratios.ts`) for how a ratio is told from a time such as "10:30". Sizes need both sides
 *   ≥ 256 ("a 100x100 grid" is not one). A bare ratio counts only at the end of the prompt (where
 *   nothing but punctuation, closing brackets, flags or URLs follows), next to a ratio word
 *   (`比例：4:3`, `9:16比例`, `16:9 format`) or right before an image noun (`a 4:3 photo`,
 *   `16:9的海报`): a score mid-sentence ("the match ended 3:2 and fans cheered") stays text.
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
 * This module holds the public API and the order of the passes. The flag syntax is in
 * `flag_syntax.ts`; sizes, ratios and keywords in plain words in `prompt_ratios.ts`; cutting what
 * was read out of the prompt and tidying the seams in `text_cleanup.ts`.
 *
 * @module
 */
import { type FlagValues, readFlags } from "./flag_syntax.ts";
import { readKeywordRatio, readPlainRatio, readPlainSize } from "./prompt_ratios.ts";
import { FILL, type Range, removeRanges } from "./text_cleanup.ts";

/**
 * What a prompt asked for besides the picture itself: the flag values (see `FlagValues`; fields
 * are present only when found), and what is left of the prompt.
 */
export interface PromptFlags extends FlagValues {
  /** The prompt with flags, sizes and ratio tokens removed; the rest of the wording is kept. */
  prompt: string;
}

const URL = /(?:\b(?:https?|ftp|wss?):\/\/|\bwww\.|\bdata:\w+\/[\w.+-]+[;,])[!-~]*/gi;

/**
 * Reads flags, sizes and ratios out of a prompt; see the module doc for the rules.
 *
 * Three passes (flags, sizes, ratios) each collect the ranges they take, in order and without
 * overlap, then blank them with `FILL` in one go so that later passes skip them. Within a pass
 * nothing reads back into a range it took, except where said (`FLAG_AFTER_CUT` in `flag_syntax.ts`,
 * `plainRatio()` in `prompt_ratios.ts`).
 */
export function parsePromptFlags(text: string): PromptFlags {
  let work = text.replace(URL, (url) => FILL.repeat(url.length));
  const removed: Range[] = [];

  const { flags, cuts: flagCuts } = readFlags(work, text);
  work = blank(work, flagCuts, removed);
  const { size, cuts: sizeCuts } = readPlainSize(work);
  work = blank(work, sizeCuts, removed);
  const { ratio, cuts: ratioCuts } = readPlainRatio(work);
  work = blank(work, ratioCuts, removed);
  const keyword = readKeywordRatio(work);

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
