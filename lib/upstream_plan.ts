/**
 * Maps a validated image request to the SiliconFlow calls that answer it: `size` → `image_size`,
 * `n` → `batch_size` or parallel calls, seeds for each call. Pure: no HTTP here.
 *
 * @module
 */
import { InvalidRequestError } from "./errors.ts";
import { type ImageRequest, MAX_SEED } from "./image_request.ts";
import { MAX_BATCH_SIZE, supportsBatch } from "./model_catalog.ts";

export interface PlanOptions {
  defaultModel: string;
  maxImages: number;
  /** Source of seeds for parallel calls; `Math.random`-free by default. */
  randomSeed?: () => number;
}

/** The SiliconFlow calls that answer one request, to be made in parallel. */
export interface UpstreamPlan {
  model: string;
  /** Total images asked for. */
  count: number;
  bodies: Record<string, unknown>[];
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
  const model = req.model ?? options.defaultModel;
  const count = req.n ?? req.batch_size ?? 1;
  if (count > options.maxImages) {
    throw new InvalidRequestError(
      `${req.n !== undefined ? "n" : "batch_size"} is ${count}, but this gateway allows at most ` +
        `${options.maxImages} images per request (MAX_IMAGES_PER_REQUEST)`,
      { param: req.n !== undefined ? "n" : "batch_size", code: "too_many_images" },
    );
  }
  const common = upstreamFields(req, model);
  const perCall = supportsBatch(model) ? MAX_BATCH_SIZE : 1;
  const calls = Math.ceil(count / perCall);
  const randomSeed = options.randomSeed ?? cryptoSeed;
  const bodies = Array.from({ length: calls }, (_, i) => {
    const body: Record<string, unknown> = { ...common };
    if (supportsBatch(model)) body.batch_size = Math.min(perCall, count - i * perCall);
    if (req.seed !== undefined) body.seed = (req.seed + i) % (MAX_SEED + 1);
    else if (calls > 1) body.seed = randomSeed();
    return body;
  });
  return { model, count, bodies };
}

function upstreamFields(req: ImageRequest, model: string): Record<string, unknown> {
  const body: Record<string, unknown> = { model, prompt: req.prompt };
  const imageSize = req.image_size ?? req.size;
  if (imageSize) body.image_size = imageSize;
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
    if (value !== undefined && value !== null && value !== "") body[field] = value;
  }
  return body;
}

/** The same calls with another prompt: the one prompt enhancement wrote. */
export function withPrompt(plan: UpstreamPlan, prompt: string | undefined): UpstreamPlan {
  if (prompt === undefined) return plan;
  return { ...plan, bodies: plan.bodies.map((body) => ({ ...body, prompt })) };
}
