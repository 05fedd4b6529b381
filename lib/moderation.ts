/**
 * The keyword blocklist (`BANNED_KEYWORDS`): a prompt containing any listed word, in any letter
 * case, is refused before anything is sent upstream.
 *
 * @module
 */
import { InvalidRequestError } from "./errors.ts";

/** @throws {InvalidRequestError} `content_policy_violation` when the prompt contains a banned word */
export function checkBannedKeywords(prompt: string, keywords: readonly string[]): void {
  if (keywords.length === 0) return;
  const text = prompt.toLowerCase();
  const hit = keywords.find((word) => text.includes(word));
  if (hit === undefined) return;
  // The word itself is not repeated: the message may be shown to others in a shared chat.
  throw new InvalidRequestError(
    "The prompt contains a word this gateway does not allow (BANNED_KEYWORDS); rephrase it",
    { param: "prompt", code: "content_policy_violation" },
  );
}
