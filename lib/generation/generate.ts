/**
 * Image generation end to end: parallel SiliconFlow calls, then every image downloaded, sniffed and
 * stored in KV before anyone is answered. A stored image is also put in the memory cache, because
 * clients fetch a new link right away.
 *
 * Nothing paid for is lost: if one call of several fails, the others' images are still returned;
 * if storing fails, the upstream URL (and the downloaded bytes, for base64 answers) stand in.
 *
 * @module
 */
import { type DownloadedImage, downloadImage } from "../storage/download.ts";
import { imageTypeOf } from "../storage/image_type.ts";
import type { ImageCache } from "../storage/memory_cache.ts";
import { putImage, type StoredImage } from "../storage/kv_store.ts";
import { maybeEnhance } from "./prompt_tools.ts";
import { type UpstreamPlan, withPrompt } from "./upstream_plan.ts";
import {
  type GenerationResult,
  type SiliconFlowClient,
  SiliconFlowError,
} from "../upstream/siliconflow.ts";
import type { GatewayError } from "../errors.ts";
import type { KeyRunner } from "../upstream/key_pool.ts";
import type { Logger } from "../log.ts";
import type { GatewayServices } from "../services.ts";
import { translateUpstreamError } from "../upstream/error_translation.ts";

export interface GenerationDeps {
  kv: Deno.Kv;
  cache: ImageCache;
  siliconflow: SiliconFlowClient;
  withKey: KeyRunner;
  /** Used to download upstream images. */
  fetch: typeof fetch;
  translate: (err: SiliconFlowError) => GatewayError;
  downloadTimeoutMs: number;
  maxImageBytes: number;
  imageTtlMs: number;
  /** Stops waiting for SiliconFlow when aborted (the client went away). */
  signal?: AbortSignal;
}

/** One image of the answer, stored or not. */
export interface GeneratedImage {
  /** Set when the image is in KV and reachable at `/i/:id`. */
  stored: StoredImage | undefined;
  /** The downloaded bytes, when the download worked. */
  download: DownloadedImage | undefined;
  /** SiliconFlow's link, valid for about an hour: the fallback when storing failed. */
  upstreamUrl: string;
  seed: number | undefined;
  /** Why the image could not be stored, for the log and the response header. */
  storeError: string | undefined;
}

export interface GenerationOutcome {
  images: GeneratedImage[];
  /** Upstream calls that failed while others succeeded (their errors, translated). */
  failedCalls: GatewayError[];
  /** Longest inference time among the calls, in seconds. */
  inference: number | undefined;
}

/** The link a client gets for an image: ours when stored, SiliconFlow's (short-lived) otherwise. */
export function linkOf(
  image: GeneratedImage,
  linkFor: (id: string, ext: string) => string,
): string {
  if (!image.stored) return image.upstreamUrl;
  return linkFor(image.stored.id, imageTypeOf(image.stored.meta.type)?.ext ?? "png");
}

/** Makes the planned calls in parallel and persists every image they return. */
export async function generateImages(
  plan: UpstreamPlan,
  deps: GenerationDeps,
): Promise<GenerationOutcome> {
  const settled = await Promise.allSettled(
    plan.bodies.map((body) =>
      deps.withKey(plan.model, (key) => deps.siliconflow.generate(body, key, deps.signal))
    ),
  );
  const results: GenerationResult[] = [];
  const failedCalls: GatewayError[] = [];
  for (const outcome of settled) {
    if (outcome.status === "fulfilled") results.push(outcome.value);
    else if (outcome.reason instanceof SiliconFlowError) {
      failedCalls.push(deps.translate(outcome.reason));
    } else throw outcome.reason;
  }
  if (results.length === 0) {
    // Any call that may have been billed makes a retry of the whole request cost again.
    const billed = failedCalls.some((e) => e.headers["x-should-retry"] === "false");
    if (billed) failedCalls[0].headers["x-should-retry"] = "false";
    throw failedCalls[0];
  }

  const pending = results.flatMap((result) =>
    result.images.slice(0, plan.count).map((image) => persistImage(image.url, result.seed, deps))
  );
  const images = (await Promise.all(pending)).slice(0, plan.count);
  const timings = results.map((r) => r.inference).filter((t): t is number => t !== undefined);
  return {
    images,
    failedCalls,
    inference: timings.length > 0 ? Math.max(...timings) : undefined,
  };
}

/** Downloads one upstream image and stores it; never throws. */
export async function persistImage(
  upstreamUrl: string,
  seed: number | undefined,
  deps: Pick<
    GenerationDeps,
    "kv" | "cache" | "fetch" | "downloadTimeoutMs" | "maxImageBytes" | "imageTtlMs"
  >,
): Promise<GeneratedImage> {
  const image: GeneratedImage = {
    stored: undefined,
    download: undefined,
    upstreamUrl,
    seed,
    storeError: undefined,
  };
  try {
    image.download = await downloadImage(upstreamUrl, {
      fetch: deps.fetch,
      timeoutMs: deps.downloadTimeoutMs,
      maxBytes: deps.maxImageBytes,
    });
    const { bytes, type, sha256 } = image.download;
    image.stored = await putImage(deps.kv, bytes, { type, sha256, ttlMs: deps.imageTtlMs });
    deps.cache.set(image.stored.id, { meta: image.stored.meta, bytes });
  } catch (err) {
    image.storeError = err instanceof Error ? err.message : String(err);
  }
  return image;
}

/** What one request brings to a generation: who pays, which secrets to scrub, when to stop. */
export interface RequestContext {
  withKey: KeyRunner;
  secrets: readonly string[];
  signal?: AbortSignal;
}

/** {@link generateImages} with the gateway's shared services. */
export async function generateFor(
  plan: UpstreamPlan,
  services: GatewayServices,
  { withKey, secrets, signal }: RequestContext,
): Promise<GenerationOutcome> {
  const authMode = services.config.authMode;
  return await generateImages(plan, {
    ...services.storage,
    siliconflow: services.siliconflow,
    withKey,
    signal,
    translate: (err) => translateUpstreamError(err, { authMode, secrets }),
  });
}

/** Logs every image answered with an upstream link and every failed call. */
export function logOutcome(outcome: GenerationOutcome, calls: number, log: Logger): void {
  for (const image of outcome.images.filter((i) => !i.stored)) {
    log.warn(`image not stored, answering with the upstream link: ${image.storeError}`);
  }
  if (outcome.failedCalls.length > 0) {
    log.warn(
      `${outcome.failedCalls.length} of ${calls} upstream calls failed: ` +
        outcome.failedCalls.map((e) => e.message).join("; "),
    );
  }
}

/** What {@link generateWithTools} made: the outcome, and the rewritten prompt if there is one. */
export interface ToolsOutcome {
  outcome: GenerationOutcome;
  plan: UpstreamPlan;
  revisedPrompt: string | undefined;
}

/**
 * The whole generation for one request after validation, shared by both endpoints: optional
 * prompt enhancement, the SiliconFlow calls, storage, and a log line for anything lost or degraded.
 * Progress lines go to `progress` for streamed chat answers.
 */
export async function generateWithTools(
  planned: UpstreamPlan,
  prompt: string,
  services: GatewayServices,
  context: RequestContext & { progress?: (line: string) => void },
): Promise<ToolsOutcome> {
  const revisedPrompt = await maybeEnhance(prompt, services, context);
  const plan = withPrompt(planned, revisedPrompt);
  const size = plan.bodies[0].image_size;
  context.progress?.(
    `Generating ${plan.count} image${plan.count === 1 ? "" : "s"} with ${plan.model}` +
      `${size ? ` at ${size}` : ""}…`,
  );
  const started = performance.now();
  const outcome = await generateFor(plan, services, context);
  logOutcome(outcome, plan.bodies.length, services.log);
  context.progress?.(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  return { outcome, plan, revisedPrompt };
}
