/**
 * Matching prompts against `BANNED_KEYWORDS` so that the spellings people use to slip past a
 * blocklist still match, while innocent words do not. Pure.
 *
 * Both the prompt and the keywords are folded first: NFKC (full-width `ｇｏｒｅ` and ligatures read
 * as `gore`), lower case, and invisible characters removed (zero-width spaces and joiners, soft
 * hyphens, bidi marks, the BOM — every format character, `\p{Cf}` — and the Hangul fillers).
 * Accents are ignored only for a keyword written without any (`gore` matches `góre`), so a
 * keyword whose marks carry meaning (Vietnamese `lồn`, Japanese `でぶ`) matches only as written.
 *
 * - A keyword in Chinese, Japanese or Korean script matches anywhere (those scripts have no word
 *   breaks), also across separators and spaces (`血.腥`, `血 腥`).
 * - Any other keyword matches as whole words ("ass" is not in "glass", `хуй` not in
 *   "страх уйдёт"), in any of three readings of the prompt: as written; with separators inside a
 *   word removed (`g.o.r.e`, `go-re`, `g_o_r_e` → `gore`); and with a spelled-out run of single
 *   letters joined (`g o r e` → `gore`). The words of a keyword of several may be written with
 *   any separators between them, or none (`blood bath`: `blood-bath`, `bloodbath`). Symbols in a
 *   keyword (`18+`, `s&m`) must be there as written.
 *
 * @module
 */

/** Characters that render as nothing: format characters and the Hangul fillers. */
const INVISIBLE = /[\p{Cf}\u115F\u1160\u3164\uFFA0]/gu;
/** What people put between letters to break a word up: punctuation and symbols, not letters. */
const SEPARATOR = String.raw`[\p{P}\p{S}]`;
const INSIDE_WORD = new RegExp(`(?<=[\\p{L}\\p{N}])${SEPARATOR}+(?=[\\p{L}\\p{N}])`, "gu");
/** Three or more single letters or digits, each set apart by spaces or separators: `g o r e`. */
const SPELLED_OUT = new RegExp(
  String.raw`(?<![\p{L}\p{N}])[\p{L}\p{N}](?:(?:\s|${SEPARATOR})+[\p{L}\p{N}](?![\p{L}\p{N}])){2,}`,
  "gu",
);
const ALL_SEPARATORS = new RegExp(String.raw`(?:\s|${SEPARATOR})+`, "gu");
const NO_WORD_BREAKS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const MARKS = /\p{Mn}/gu;

/** Text as it is compared: NFKC, lower case, no invisible characters, runs of spaces made one. */
export function foldText(text: string): string {
  return text.normalize("NFKC").toLowerCase().replace(INVISIBLE, "").replace(/\s+/g, " ");
}

function withoutAccents(text: string): string {
  return text.normalize("NFD").replace(MARKS, "").normalize("NFC");
}

/** The readings of a folded prompt a whole-word keyword is looked for in. */
function readings(folded: string): string[] {
  const joined = folded.replace(INSIDE_WORD, "");
  const spelled = joined.replace(SPELLED_OUT, (run) => run.replace(ALL_SEPARATORS, ""));
  return [folded, joined, spelled];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A matcher for one folded keyword, over the prompt as written and without accents. */
function matcher(keyword: string): (text: { plain: string[]; bare: string[] }) => boolean {
  // Texts are tried without accents only when the keyword has none of its own.
  const pick = (text: { plain: string[]; bare: string[] }) =>
    withoutAccents(keyword) === keyword.normalize("NFC")
      ? [...text.plain, ...text.bare]
      : text.plain;
  if (NO_WORD_BREAKS.test(keyword)) {
    const squeezed = keyword.replace(ALL_SEPARATORS, "");
    return (text) => pick(text).some((t) => t.replace(ALL_SEPARATORS, "").includes(squeezed));
  }
  const words = keyword.split(" ").map(escapeRegExp).join(`(?:\\s|${SEPARATOR})*`);
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])${words}(?![\\p{L}\\p{N}])`, "u");
  return (text) => pick(text).some((t) => pattern.test(t));
}

/** The first keyword the prompt contains, or `undefined`. */
export function findBannedKeyword(
  prompt: string,
  keywords: readonly string[],
): string | undefined {
  if (keywords.length === 0) return undefined;
  const folded = foldText(prompt);
  const plain = readings(folded);
  let bare: string[] | undefined;
  return keywords.find((keyword) => {
    const word = foldText(keyword).trim();
    if (word === "") return false;
    bare ??= readings(withoutAccents(folded));
    return matcher(word)({ plain, bare });
  });
}
