/**
 * The optional prompt tools every generation goes through: the keyword blocklist
 * (`BANNED_KEYWORDS`), checked before anything is sent upstream, and LLM prompt enhancement
 * (`PROMPT_ENHANCE_MODEL`), whose result obeys the blocklist too.
 *
 * @module
 */
import { InvalidRequestError } from "../errors.ts";
import type { GatewayServices } from "../services.ts";
import type { KeyRunner } from "../upstream/key_pool.ts";
import { findBannedKeyword } from "./blocklist.ts";
import { enhancePrompt } from "./prompt_enhance.ts";

/** What enhancement needs of the request: who pays, when to stop, where progress goes. */
export interface EnhanceContext {
  withKey: KeyRunner;
  signal?: AbortSignal;
  progress?: (line: string) => void;
}

/** @throws {InvalidRequestError} `content_policy_violation` when the prompt contains a banned word */
export function checkBannedKeywords(prompt: string, keywords: readonly string[]): void {
  if (findBannedKeyword(prompt, keywords) === undefined) return;
  // The word itself is not repeated: the message may be shown to others in a shared chat.
  throw new InvalidRequestError(
    "The prompt contains a word this gateway does not allow (BANNED_KEYWORDS); rephrase it",
    { param: "prompt", code: "content_policy_violation" },
  );
}

/**
 * Rewrites the prompt when `PROMPT_ENHANCE_MODEL` is set; `undefined` (keep the original) when it
 * is not, or on any failure.
 */
export async function maybeEnhance(
  prompt: string,
  services: GatewayServices,
  context: EnhanceContext,
): Promise<string | undefined> {
  const { config, log, storage } = services;
  if (!config.promptEnhance) return undefined;
  context.progress?.("Improving the prompt…");
  const result = await enhancePrompt(prompt, {
    config: config.promptEnhance,
    fetch: storage.fetch,
    withKey: context.withKey,
    ownKeys: services.enhanceKeys,
    log,
    signal: context.signal,
  });
  if (!result.enhanced) return undefined;
  try {
    // The rewrite must obey the blocklist too; if it does not, the user's own words are used.
    checkBannedKeywords(result.prompt, config.bannedKeywords);
  } catch {
    log.warn("prompt enhancement added a banned word; using the original prompt");
    return undefined;
  }
  context.progress?.(`Prompt: ${result.prompt}`);
  return result.prompt;
}
