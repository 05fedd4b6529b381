/**
 * Matching prompts against `BANNED_KEYWORDS` so that the spellings people use to slip past a
 * blocklist still match, while innocent words do not. Pure.
 *
 * Both the prompt and the keywords are folded the same way first:
 * - NFKC, so full-width `ｇｏｒｅ` and ligatures read as `gore`, then lower case;
 * - accents removed (`góre` → `gore`);
 * - invisible characters removed: zero-width spaces and joiners, soft hyphens, bidi marks, the BOM
 *   (every format character, `\p{Cf}`), and the Hangul fillers that render as nothing.
 *
 * Then a keyword matches when it appears, as a whole word for keywords in Latin letters and digits
 * ("ass" does not match "glass"), anywhere for other scripts (Chinese has no word breaks), in any
 * of three readings of the prompt: as written; with separators inside a word removed (`g.o.r.e`,
 * `go-re`, `g_o_r_e` → `gore`); and with a spelled-out run of single letters joined (`g o r e` →
 * `gore`). For other scripts all separators and spaces go (`血.腥`, `血 腥` → `血腥`).
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
const LATIN_KEYWORD = /^[a-z0-9][a-z0-9 '-]*$/;

/** Text as it is compared: NFKC, lower case, no accents, no invisible characters. */
export function foldText(text: string): string {
  return text.normalize("NFKC").toLowerCase().normalize("NFD").replace(/\p{Mn}/gu, "")
    .normalize("NFC").replace(INVISIBLE, "");
}

/** A keyword folded as prompts are, with runs of spaces made one. */
export function foldKeyword(keyword: string): string {
  return foldText(keyword).replace(/\s+/g, " ").trim();
}

/** The readings of a folded prompt a keyword is looked for in. */
function readings(folded: string) {
  const joined = folded.replace(INSIDE_WORD, "");
  const spelled = joined.replace(
    SPELLED_OUT,
    (run) => run.replace(ALL_SEPARATORS, ""),
  );
  return { latin: [folded, joined, spelled], other: folded.replace(ALL_SEPARATORS, "") };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The first keyword the prompt contains, or `undefined`. */
export function findBannedKeyword(
  prompt: string,
  keywords: readonly string[],
): string | undefined {
  if (keywords.length === 0) return undefined;
  const { latin, other } = readings(foldText(prompt));
  return keywords.find((keyword) => {
    const word = foldKeyword(keyword);
    if (word === "") return false;
    if (!LATIN_KEYWORD.test(word)) return other.includes(word.replace(ALL_SEPARATORS, ""));
    const pattern = new RegExp(
      `(?<![\\p{L}\\p{N}])${escapeRegExp(word).replaceAll(" ", "\\s+")}(?![\\p{L}\\p{N}])`,
      "u",
    );
    return latin.some((text) => pattern.test(text));
  });
}
