/**
 * The image parameters of a chat request, gathered in increasing priority from: the model's
 * defaults, top-level body fields (the images endpoint's names, as clients such as Cherry Studio
 * send "custom parameters" — sometimes as strings, sometimes as stringified JSON), and flags
 * written in the prompt (`--ar 16:9`, `--seed 42`, …). Pure.
 *
 * @module
 */
import { InvalidRequestError } from "./errors.ts";
import { type ModelInfo, sizeForRatio } from "./model_catalog.ts";
import type { PromptFlags } from "./prompt_flags.ts";
import type { ConversationInput } from "./conversation.ts";

/** Body fields that are image parameters (plain, `sf_`-prefixed and other spellings). */
const IMAGE_FIELDS = [
  "n",
  "size",
  "negative_prompt",
  "image_size",
  "batch_size",
  "seed",
  "num_inference_steps",
  "guidance_scale",
  "cfg",
  "steps",
  "cfg_scale",
  "sf_negative_prompt",
  "sf_image_size",
  "sf_batch_size",
  "sf_seed",
  "sf_num_inference_steps",
  "sf_num_steps",
  "sf_steps",
  "sf_guidance_scale",
  "sf_cfg",
];

/** Containers some clients put parameters in, as objects or as JSON text. */
const CONTAINERS = ["extra_body", "parameters", "image_params", "sf_params"];

/** The image parameters found in a chat body; chat's own fields (temperature, …) are left out. */
export function bodyImageParams(body: Record<string, unknown>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const name of CONTAINERS) {
    const value = typeof body[name] === "string" ? parseJsonObject(body[name], name) : body[name];
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const field of IMAGE_FIELDS) {
        const v = (value as Record<string, unknown>)[field];
        if (v !== undefined && v !== null) params[field] = v;
      }
    }
  }
  for (const field of IMAGE_FIELDS) {
    if (body[field] !== undefined && body[field] !== null) params[field] = body[field];
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
  if (flags.cfg !== undefined) {
    // Kolors calls its guidance `guidance_scale`; Qwen-Image calls it `cfg`.
    const name = info.params.has("cfg") || !info.params.has("guidance_scale")
      ? "cfg"
      : "guidance_scale";
    params[name] = flags.cfg;
  }
  if (flags.n !== undefined) params.n = flags.n;
  if (flags.negativePrompt) params.negative_prompt = flags.negativePrompt;
  return params;
}

/**
 * Merges defaults, body parameters and prompt flags. A flag replaces every spelling of the same
 * parameter in the body; models that take no `image_size` (the edit models) get no size at all.
 */
export function mergeImageParams(
  info: ModelInfo,
  body: Record<string, unknown>,
  flags: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...body };
  const sameAs: Record<string, string[]> = {
    size: ["size", "image_size", "sf_image_size"],
    seed: ["seed", "sf_seed"],
    num_inference_steps: [
      "num_inference_steps",
      "steps",
      "sf_num_inference_steps",
      "sf_num_steps",
      "sf_steps",
    ],
    cfg: ["cfg", "cfg_scale", "sf_cfg"],
    guidance_scale: ["guidance_scale", "sf_guidance_scale"],
    n: ["n", "batch_size", "sf_batch_size"],
    negative_prompt: ["negative_prompt", "sf_negative_prompt"],
  };
  for (const [name, value] of Object.entries(flags)) {
    for (const spelling of sameAs[name] ?? [name]) delete merged[spelling];
    merged[name] = value;
  }
  if (!info.takesImageSize) {
    for (const spelling of sameAs.size) delete merged[spelling];
  } else if (
    info.sizes.length > 0 && sameAs.size.every((spelling) => merged[spelling] === undefined)
  ) {
    // The model's default, sent explicitly: SiliconFlow documents image_size as required.
    merged.size = info.sizes[0];
  }
  return merged;
}

/**
 * The input images for this model: the latest user message's (or, failing that, the body's), and
 * for edit models with none, the most recent image earlier in the conversation.
 *
 * @throws {InvalidRequestError} when the model needs images it did not get, or gets too many
 */
export function chooseInputImages(
  info: ModelInfo,
  conversation: ConversationInput,
  bodyImages: readonly string[],
): string[] {
  let images = conversation.images.length > 0 ? [...conversation.images] : [...bodyImages];
  if (images.length === 0 && info.minInputImages > 0 && conversation.previousImage) {
    images = [conversation.previousImage];
  }
  const range = info.minInputImages === info.maxInputImages
    ? `${info.maxInputImages}`
    : `${Math.max(info.minInputImages, 1)} to ${info.maxInputImages}`;
  if (images.length < info.minInputImages) {
    throw new InvalidRequestError(
      `${info.id} edits images: attach ${range} image(s) to your message, or ask for a change ` +
        "after an image in this conversation",
      { param: "messages", code: "missing_image" },
    );
  }
  if (images.length > info.maxInputImages) {
    throw new InvalidRequestError(
      info.maxInputImages === 0
        ? `${info.id} does not take input images; to edit an image, choose an edit model such ` +
          "as Qwen/Qwen-Image-Edit-2509"
        : `${info.id} takes at most ${info.maxInputImages} input image(s); the message has ${images.length}`,
      { param: "messages", code: "too_many_images" },
    );
  }
  return images;
}
