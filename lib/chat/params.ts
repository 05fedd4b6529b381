/**
 * The image parameters of a chat request, gathered in increasing priority from: the model's
 * defaults, top-level body fields (the images endpoint's names, as clients such as Cherry Studio
 * send "custom parameters" — sometimes as strings, sometimes as stringified JSON), and flags
 * written in the prompt (`--ar 16:9`, `--seed 42`, …); the upstream plan then fits them to the
 * model (defaults included). Pure.
 *
 * @module
 */
import { InvalidRequestError } from "../errors.ts";
import { ALIASES } from "../openai/image_request.ts";
import { type ModelInfo, sizeForRatio } from "../generation/model_catalog.ts";
import type { PromptFlags } from "./prompt_flags.ts";

/** Every spelling of a parameter the images endpoint accepts, from its alias table. */
function spellings(...canonical: string[]): string[] {
  return canonical.flatMap((name) => [
    name,
    ...Object.keys(ALIASES).filter((alias) => ALIASES[alias] === name),
  ]);
}

/** Groups of spellings that mean one thing; the first spelling present in a group wins. */
const GROUPS = {
  // LobeChat's shape fields count as a size: a flag's size or ratio replaces them all.
  size: spellings("image_size", "size", "width", "height", "aspect_ratio"),
  guidance: spellings("cfg", "guidance_scale"),
  n: spellings("n", "batch_size"),
  seed: spellings("seed"),
  steps: spellings("num_inference_steps"),
  negative: spellings("negative_prompt"),
  // The format of the answer's links: overrides CHAT_IMAGE_FORMAT for this request.
  format: spellings("output_format"),
  compression: spellings("output_compression"),
};

/** Body fields that are image parameters (input images come from the messages instead). */
const IMAGE_FIELDS = Object.values(GROUPS).flat();

/** Containers some clients put parameters in, as objects or as JSON text. */
const CONTAINERS = ["extra_body", "extra_fields", "parameters", "image_params", "sf_params"];

/**
 * The image parameters found in a chat body; chat's own fields (temperature, …) are left out.
 * Containers are read in order and the top level last, each replacing every spelling of the
 * parameters it sets, so a top-level `sf_seed` beats a `seed` inside `extra_fields`.
 */
export function bodyImageParams(body: Record<string, unknown>): Record<string, unknown> {
  const sources = CONTAINERS.map((name) =>
    typeof body[name] === "string" ? parseJsonObject(body[name], name) : body[name]
  ).filter((value): value is Record<string, unknown> =>
    value !== null && typeof value === "object" && !Array.isArray(value)
  );
  let params: Record<string, unknown> = {};
  for (const source of [...sources, body]) {
    const found: Record<string, unknown> = {};
    for (const field of IMAGE_FIELDS) {
      if (source[field] !== undefined && source[field] !== null) found[field] = source[field];
    }
    params = mergeImageParams(params, found);
  }
  return params;
}

function parseJsonObject(text: unknown, name: string): unknown {
  try {
    return JSON.parse(String(text));
  } catch {
    throw new InvalidRequestError(`${name} must be a JSON object`, {
      param: name,
      code: "invalid_value",
    });
  }
}

/** The parameters a prompt's flags set, in the images endpoint's names, for this model. */
export function flagParams(flags: PromptFlags, info: ModelInfo): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  if (flags.size) params.size = flags.size;
  else if (flags.ratio) {
    const size = sizeForRatio(info.id, flags.ratio.width, flags.ratio.height);
    if (size) params.size = size;
  }
  if (flags.seed !== undefined) params.seed = flags.seed;
  if (flags.steps !== undefined) params.num_inference_steps = flags.steps;
  if (flags.cfg !== undefined) params.cfg = flags.cfg;
  if (flags.n !== undefined) params.n = flags.n;
  if (flags.negativePrompt) params.negative_prompt = flags.negativePrompt;
  return params;
}

/**
 * Merges body parameters and prompt flags: a flag replaces every spelling of the same parameter
 * in the body. Fitting the result to the model (its sizes, its name for guidance, what it takes at
 * all) is the upstream plan's job, shared with the Images API.
 */
export function mergeImageParams(
  body: Record<string, unknown>,
  flags: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...body };
  // Every spelling of what `flags` sets goes first, so that several of one group (`width` and
  // `height`) all arrive.
  for (const name of Object.keys(flags)) {
    const group = Object.values(GROUPS).find((g) => g.includes(name)) ?? [name];
    for (const spelling of group) delete merged[spelling];
  }
  return Object.assign(merged, flags);
}
