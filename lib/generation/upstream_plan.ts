/**
 * Maps a validated image request to the SiliconFlow calls that answer it: `size` → `image_size`,
 * `n` → `batch_size` or parallel calls, seeds for each call. Pure: no HTTP here.
 *
 * @module
 */
import { InvalidRequestError, PayloadTooLargeError } from "../errors.ts";
import { type ImageRequest, spelledAs } from "../openai/image_request.ts";
import { MAX_BATCH_SIZE, MAX_SEED } from "../upstream/siliconflow.ts";
import { type ModelInfo, modelInfo, parseSize, sizeForRatio, snapSize } from "./model_catalog.ts";

export interface PlanOptions {
  /**
   * The model when the request names none. The routes always name the model `chooseModel()`
   * chose (aliases resolved), so this matters only to direct callers.
   */
  defaultModel: string;
  maxImages: number;
  /** Source of seeds for parallel calls; `Math.random`-free by default. */
  randomSeed?: () => number;
}

/** The SiliconFlow calls that answer one request, to be made in parallel. */
export interface UpstreamPlan {
  /** The SiliconFlow model id, in its canonical spelling. */
  model: string;
  /** Total images asked for. */
  count: number;
  bodies: Record<string, unknown>[];
  /** The `image_size` sent, reported back as `size`; `undefined` for models that take none. */
  size: string | undefined;
  /** Request parameters the model does not take, left out of the calls. */
  dropped: string[];
}

function cryptoSeed(): number {
  const [high, low] = crypto.getRandomValues(new Uint32Array(2));
  return (high * 2 ** 32 + low) % (MAX_SEED + 1);
}

/**
 * Maps a validated request to SiliconFlow request bodies: `size` → `image_size`, and `n` → either
 * `batch_size` (models that batch) or one call per image. Parallel calls get different seeds; a
 * seed fixed by the caller is used for the first image and counted up for the next, so `n` images
 * are never `n` copies while the first stays reproducible.
 */
export function planUpstreamCalls(req: ImageRequest, options: PlanOptions): UpstreamPlan {
  const info = modelInfo(req.model ?? options.defaultModel);
  const model = info.id;
  const count = req.n ?? req.batch_size ?? 1;
  const countParam = spelledAs(req, req.n !== undefined ? "n" : "batch_size");
  if (count < 1) {
    throw new InvalidRequestError(
      `${countParam} must be between 1 and ${options.maxImages} (MAX_IMAGES_PER_REQUEST)`,
      { param: countParam, code: "invalid_value" },
    );
  }
  if (count > options.maxImages) {
    throw new InvalidRequestError(
      `${countParam} is ${count}, but this gateway allows at most ` +
        `${options.maxImages} images per request (MAX_IMAGES_PER_REQUEST)`,
      { param: countParam, code: "too_many_images" },
    );
  }
  const { body: common, dropped } = upstreamFields(req, info);
  const perCall = info.batch ? MAX_BATCH_SIZE : 1;
  const calls = Math.ceil(count / perCall);
  checkInlineVolume(common, calls);
  const randomSeed = options.randomSeed ?? cryptoSeed;
  const bodies = Array.from({ length: calls }, (_, i) => {
    const body: Record<string, unknown> = { ...common };
    if (info.batch) body.batch_size = Math.min(perCall, count - i * perCall);
    if (!info.params.has("seed")) return body;
    if (req.seed !== undefined) body.seed = (req.seed + i) % (MAX_SEED + 1);
    else if (calls > 1) body.seed = randomSeed();
    return body;
  });
  if (req.seed !== undefined && !info.params.has("seed")) dropped.push("seed");
  return { model, count, bodies, size: common.image_size as string | undefined, dropped };
}

/**
 * The most inline image data (data URIs) all parallel calls of one request may carry together:
 * each call serialises its own copy of the body, so 3 × 8 MB images at n = 4 would hold ~300 MB,
 * near Deno Deploy's 512 MB memory.
 */
export const MAX_INLINE_IMAGE_BYTES = 64 * 1024 * 1024;

function checkInlineVolume(body: Record<string, unknown>, calls: number): void {
  const inline = ["image", "image2", "image3"]
    .map((field) => body[field])
    .filter((v): v is string => typeof v === "string" && v.startsWith("data:"))
    .reduce((sum, uri) => sum + uri.length, 0);
  if (inline * calls <= MAX_INLINE_IMAGE_BYTES) return;
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  throw new PayloadTooLargeError(
    `${calls} parallel calls with ${mb(inline)} MB of input images each would send ` +
      `${mb(inline * calls)} MB; at most ${
        mb(MAX_INLINE_IMAGE_BYTES)
      } MB per request: lower n or ` +
      "send smaller images",
    { param: "n" },
  );
}

/**
 * The fields every call shares, fitted to the model: a size it lists (the nearest shape to the
 * one asked for, its default for none or `auto`; none for edit models), and only the parameters
 * it takes — the others are dropped here rather than sent to fail upstream, and reported.
 */
function upstreamFields(req: ImageRequest, info: ModelInfo) {
  const body: Record<string, unknown> = { model: info.id, prompt: req.prompt };
  const { requested, from, unused } = requestedShape(req, info);
  const dropped: string[] = [...unused];
  if (info.takesImageSize) {
    if (requested !== undefined && !parseSize(requested)) {
      throw new InvalidRequestError(
        `${spelledAs(req, from)} "${requested}" is not a size; use WIDTHxHEIGHT such as "${
          info.sizes[0]
        }"` +
          (info.known ? `, one of ${info.id}'s sizes: ${info.sizes.join(", ")}` : ""),
        { param: spelledAs(req, from), code: "invalid_value" },
      );
    }
    // A model we do not know may take sizes we do not know: a plausible one is passed on as it is.
    body.image_size = !info.known && plausibleSize(requested)
      ? requested
      : snapSize(info.id, requested).size ?? info.sizes[0];
  }
  checkRange(req, "num_inference_steps", info.steps ?? GENERIC_STEPS, info);
  // Guidance goes under the model's own name (Kolors: guidance_scale, Qwen-Image: cfg), within
  // the model's own range.
  if (info.guidance) {
    const { param } = info.guidance;
    const sent = ([param, "cfg", "guidance_scale"] as const).find((f) => req[f] != null);
    if (sent) body[param] = checkRange(req, sent, info.guidance, info);
  }
  // Model-specific switches: FLUX.2-pro's output format (png or jpeg), FLUX.1-schnell's
  // prompt enhancement. Other models never see them.
  if (
    info.params.has("output_format") &&
    (req.output_format === "png" || req.output_format === "jpeg")
  ) {
    body.output_format = req.output_format;
  }
  if (req.prompt_enhancement != null) {
    if (info.params.has("prompt_enhancement")) body.prompt_enhancement = req.prompt_enhancement;
    else dropped.push("prompt_enhancement");
  }
  for (
    const field of [
      "negative_prompt",
      "num_inference_steps",
      "guidance_scale",
      "cfg",
      "image",
      "image2",
      "image3",
    ] as const
  ) {
    const value = req[field];
    if (value === undefined || value === null || value === "") continue;
    if (info.guidance && (field === "cfg" || field === "guidance_scale")) continue; // mapped above
    if (!info.params.has(field)) {
      dropped.push(field);
      continue;
    }
    if (field === "cfg" || field === "guidance_scale") {
      checkRange(req, field, GENERIC_GUIDANCE[field], info);
    }
    body[field] = value;
  }
  return { body, dropped };
}

/** SiliconFlow's common range for `num_inference_steps`, for models without their own. */
const GENERIC_STEPS = { min: 1, max: 100 };

/**
 * The value of a numeric field, checked against the range in force for this model; the error
 * names the field as the client spelled it.
 */
function checkRange(
  req: ImageRequest,
  field: "num_inference_steps" | "cfg" | "guidance_scale",
  { min, max }: { min: number; max: number },
  info: ModelInfo,
): number | undefined {
  const value = req[field];
  if (value === undefined || value === null) return undefined;
  if (value < min || value > max) {
    const name = spelledAs(req, field);
    throw new InvalidRequestError(`${name} must be between ${min} and ${max} for ${info.id}`, {
      param: name,
      code: "invalid_value",
    });
  }
  return value;
}

/**
 * For models we have no range for, the widest documented ones: `guidance_scale` 0–100 (legacy
 * Stable Diffusion), `cfg` 0.1–20 (SiliconFlow's common fields).
 */
const GENERIC_GUIDANCE = {
  guidance_scale: { min: 0, max: 100 },
  cfg: { min: 0.1, max: 20 },
} as const;

/**
 * The size asked for, and in which field: `image_size` or `size` (which win), else LobeChat's
 * `width` and `height` together, else `aspect_ratio` mapped to the model's nearest size. The
 * fields not used are named, to be reported as dropped: all of them for a model that takes no
 * size.
 */
function requestedShape(req: ImageRequest, info: ModelInfo) {
  const sent: string[] = (["image_size", "size", "width", "height", "aspect_ratio"] as const)
    .filter((field) => req[field] !== undefined && req[field] !== null);
  if (!info.takesImageSize) return { requested: undefined, from: "size", unused: sent };
  const explicit = req.image_size ?? req.size ?? undefined;
  const pick = (requested: string | undefined, ...used: string[]) => ({
    requested,
    from: used[0] ?? "size",
    unused: sent.filter((field) => !used.includes(field)),
  });
  if (explicit !== undefined) return pick(explicit, req.image_size ? "image_size" : "size");
  if (req.width && req.height) return pick(`${req.width}x${req.height}`, "width", "height");
  if (req.aspect_ratio) {
    const { width, height } = req.aspect_ratio;
    return pick(sizeForRatio(info.id, width, height), "aspect_ratio");
  }
  return pick(undefined);
}

/** The same calls with another prompt: the one prompt enhancement wrote. */
export function withPrompt(plan: UpstreamPlan, prompt: string | undefined): UpstreamPlan {
  if (prompt === undefined) return plan;
  return { ...plan, bodies: plan.bodies.map((body) => ({ ...body, prompt })) };
}

/** `WxH` with sides that are multiples of 16 and at most 2,359,296 pixels (SiliconFlow's "others"). */
function plausibleSize(size: string | undefined): size is string {
  const parsed = size === undefined ? undefined : parseSize(size);
  if (!parsed) return false;
  const [w, h] = parsed;
  return w % 16 === 0 && h % 16 === 0 && w * h <= 2_359_296;
}
