/**
 * The `model` field, as every endpoint reads it: empty or blank means not set (Open WebUI sends
 * `model: ""` for edits), and a model id is at most 256 characters of text without control
 * characters. It is checked before any upstream call because it travels on: into response
 * headers (`X-Model-Substituted`), log lines and upstream requests.
 *
 * @module
 */
import { z } from "zod";

/** Longest model id accepted, in characters; real ids are under 100 (`Qwen/Qwen-Image-Edit-2509`). */
export const MAX_MODEL_ID_CHARS = 256;

/** The error code of a model id refused for its form. */
export const INVALID_MODEL = "invalid_model";

/** Control characters (C0, DEL, C1) and the Unicode line and paragraph separators. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Code points of `text`, counting no further than `max + 1`. */
function codePointsUpTo(text: string, max: number): number {
  let count = 0;
  for (let i = 0; i < text.length && count <= max; i++) {
    const unit = text.charCodeAt(i);
    // A low surrogate continues the code point its high surrogate began.
    if (unit < 0xdc00 || unit > 0xdfff) count++;
  }
  return count;
}

/** Why `model` cannot be a model id, or `undefined` when it can. */
export function modelIdProblem(model: string): string | undefined {
  // Counted before it is scanned; the count itself stops past the limit.
  if (codePointsUpTo(model, MAX_MODEL_ID_CHARS) > MAX_MODEL_ID_CHARS) {
    return `model is longer than ${MAX_MODEL_ID_CHARS} characters`;
  }
  const control = CONTROL.exec(model);
  if (!control) return undefined;
  const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
  return `model must not contain control characters or line breaks (found U+${code})`;
}

/** Empty or blank text as `undefined` (not set); any other value as it is. */
export function blankAsUnset(value: unknown): unknown {
  return typeof value === "string" && value.trim() === "" ? undefined : value;
}

/**
 * A zod check of a model id's form, whose issue carries the code {@link INVALID_MODEL} in its
 * `params` (read back with {@link issueCode}).
 */
export function checkModelId(model: string, ctx: z.RefinementCtx): void {
  const problem = modelIdProblem(model);
  if (problem) ctx.addIssue({ code: "custom", message: problem, params: { code: INVALID_MODEL } });
}

/** The error code of a zod issue: the one a check gave it, else `invalid_value`. */
export function issueCode(issue: z.core.$ZodIssue): string {
  const code = issue.code === "custom" ? issue.params?.code : undefined;
  return typeof code === "string" ? code : "invalid_value";
}
