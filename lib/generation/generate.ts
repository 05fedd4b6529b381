/**
 * Image generation end to end: parallel SiliconFlow calls, then every image downloaded into the
 * image store (`persist.ts`) before anyone is answered.
 *
 * Nothing paid for is lost: if one call of several fails, the others' images are still returned;
 * if storing fails, the upstream URL (and the downloaded bytes, for base64 answers) stand in.
 *
 * @module
 */
import { linkExtension } from "../storage/links.ts";
import { type GeneratedImage, type PersistDeps, persistImage } from "./persist.ts";
import { convertOutputs, type OutputWant } from "./output_format.ts";
import { maybeEnhance } from "./prompt_tools.ts";
import { type UpstreamPlan, withPrompt } from "./upstream_plan.ts";
import {
  type GenerationResult,
  type SiliconFlowClient,
  SiliconFlowError,
} from "../upstream/siliconflow.ts";
import { ClientClosedError, GatewayError, shuttingDown } from "../errors.ts";
import { OPEN_GATE, type SendGate } from "./send_gate.ts";
import type { KeyRunner } from "../upstream/key_pool.ts";
import type { Logger } from "../observability/log.ts";
import type { Metrics } from "../observability/metrics.ts";
import { noteRequest } from "../observability/request_context.ts";
import type { GatewayServices } from "../services.ts";
import { redact } from "../observability/redaction.ts";
import { translateUpstreamError } from "../upstream/error_translation.ts";

export type { GeneratedImage } from "./persist.ts";

export interface GenerationDeps extends PersistDeps {
  siliconflow: SiliconFlowClient;
  withKey: KeyRunner;
  translate: (err: SiliconFlowError) => GatewayError;
  /** Stops calls already sent when aborted: the gateway's shutdown grace is over. */
  signal?: AbortSignal;
  /** Refuses calls not yet sent once the client has left. */
  gate?: SendGate;
  /** The answer needs the images' bytes (`b64_json`, streamed events). */
  keepBytes?: boolean;
  /** Keys this request involves: an upstream link holding one is never handed to the client. */
  secrets?: readonly string[];
  /** Counts each image stored, its bytes, and the time storing took. */
  metrics?: Metrics;
}

export interface GenerationOutcome {
  images: GeneratedImage[];
  /** Upstream calls that failed while others succeeded (their errors, translated). */
  failedCalls: GatewayError[];
  /** Longest inference time among the calls, in seconds. */
  inference: number | undefined;
  /** Images the upstream answered with an unusable link (not http(s)), left out. */
  droppedLinks: number;
}

/** The link a client gets for an image: ours when stored, SiliconFlow's (short-lived) otherwise. */
export function linkOf(
  image: GeneratedImage,
  linkFor: (id: string, ext: string) => string,
): string {
  if (!image.stored) return image.upstreamUrl;
  return linkFor(image.stored.id, linkExtension(image.stored.meta));
}

/** Makes the planned calls in parallel and persists every image they return. */
export async function generateImages(
  plan: UpstreamPlan,
  deps: GenerationDeps,
): Promise<GenerationOutcome> {
  const gate = deps.gate ?? OPEN_GATE;
  const settled = await Promise.allSettled(
    plan.bodies.map((body) =>
      deps.withKey(plan.model, (key) => {
        // Each attempt (a retry too) is a new call: not made once the client has left.
        gate.beforeSend();
        return deps.siliconflow.generate(body, key, deps.signal);
      })
    ),
  );
  const results: GenerationResult[] = [];
  const failedCalls: GatewayError[] = [];
  // The gate's refusals: nothing was sent (the client left, or the shutdown grace is over).
  let cancelled: GatewayError | undefined;
  for (const outcome of settled) {
    if (outcome.status === "fulfilled") results.push(outcome.value);
    else if (outcome.reason instanceof SiliconFlowError) {
      failedCalls.push(deps.translate(outcome.reason));
    } else if (outcome.reason instanceof GatewayError) cancelled = outcome.reason;
    else throw outcome.reason;
  }
  // Calls the client's leaving cancelled cost nothing; the images of calls sent are still kept.
  if (results.length === 0 && failedCalls.length === 0 && cancelled) throw cancelled;
  if (results.length === 0) {
    // Any call that may have been billed makes a retry of the whole request cost again.
    const billed = failedCalls.some((e) => e.headers["x-should-retry"] === "false");
    if (billed) failedCalls[0].headers["x-should-retry"] = "false";
    throw failedCalls[0];
  }

  const pending = results.flatMap((result) =>
    result.images.slice(0, plan.count).map(async (image) => {
      const started = performance.now();
      const persisted = await persistImage(image.url, result.seed, deps, deps.keepBytes);
      countStored(deps.metrics, persisted, (performance.now() - started) / 1000);
      return persisted;
    })
  );
  const images = (await Promise.all(pending)).slice(0, plan.count);
  // The link is downloaded either way; it is only never shown, should storing fail.
  // Web links only: a data: URI (an upstream's inline bytes) is never shown as a link, and
  // scanning megabytes of base64 would cost the event loop a second.
  for (const image of images) {
    if (!image.upstreamUrl.startsWith("data:")) {
      image.upstreamUrl = redact(image.upstreamUrl, deps.secrets ?? []);
    }
  }
  const timings = results.map((r) => r.inference).filter((t): t is number => t !== undefined);
  return {
    images,
    failedCalls,
    inference: timings.length > 0 ? Math.max(...timings) : undefined,
    droppedLinks: results.reduce((sum, r) => sum + r.droppedLinks, 0),
  };
}

/** Counts one image's storing: stored (with its bytes) or failed, and how long it took. */
function countStored(metrics: Metrics | undefined, image: GeneratedImage, seconds: number) {
  if (!metrics) return;
  metrics.storageSeconds.observe({ outcome: image.stored ? "stored" : "failed" }, seconds);
  if (!image.stored) return;
  metrics.imagesStored.inc();
  metrics.bytesStored.inc(image.stored.meta.size);
}

/** What one request brings to a generation: who pays, which secrets to scrub, when to stop. */
export interface RequestContext {
  withKey: KeyRunner;
  secrets: readonly string[];
  /** Who is asking (a hash of the bearer token), for per-client limits. */
  client: string;
  /** Guards the upstream calls: none is made once the client has left, those sent finish. */
  gate?: SendGate;
}

/**
 * Runs a request's non-streamed work with the signal of its client leaving (`no-legacy-abort` in
 * deno.json makes the request's signal mean exactly that). Work that fails after the client left
 * ends in one quiet 499 log line; work cut by the end of the shutdown grace in a 503 rather than
 * a dropped connection. Work that succeeds after the client left returns as usual: its caller
 * keeps the answer for redelivery.
 */
export async function forRequest<T>(
  request: Request,
  shutdown: AbortSignal,
  work: (departed: AbortSignal) => Promise<T>,
): Promise<T> {
  try {
    return await work(request.signal);
  } catch (err) {
    if (shutdown.aborted) throw shuttingDown();
    if (request.signal.aborted) {
      throw new ClientClosedError("The client closed the connection before its answer was ready", {
        cause: err,
      });
    }
    throw err;
  }
}

/** {@link generateImages} with the gateway's shared services. */
export async function generateFor(
  plan: UpstreamPlan,
  services: GatewayServices,
  { withKey, secrets, client, gate, keepBytes }: RequestContext & { keepBytes?: boolean },
): Promise<GenerationOutcome> {
  // A model a provider of PROVIDERS_JSON declares goes there, with that provider's own keys.
  const route = services.providers.route(plan.model);
  const all = route ? [...secrets, ...route.keys] : secrets;
  return await generateImages(plan, {
    ...services.storage,
    siliconflow: route?.client ?? services.siliconflow,
    withKey: route ? (model, call) => route.pool.run(model, call) : withKey,
    // A call once sent is billed: only the end of the shutdown grace stops it.
    signal: services.shutdown.signal,
    gate,
    keepBytes,
    secrets: all,
    metrics: services.metrics,
    // The gallery: whose it is, and the prompt as sent (after enhancement).
    about: {
      owner: client,
      prompt: String(plan.bodies[0].prompt ?? ""),
      model: plan.model,
      imageSize: plan.size,
    },
    // A provider's failures in its own name, not SiliconFlow's.
    translate: (err) =>
      translateUpstreamError(err, {
        ...(route
          ? { authMode: "pool", who: route.label, keysVar: "its PROVIDERS_JSON keys" }
          : { authMode: services.config.authMode }),
        secrets: all,
        log: (line) => services.log.warn(line),
      }),
  });
}

/** Logs every image answered with an upstream link and every failed call. */
export function logOutcome(outcome: GenerationOutcome, calls: number, log: Logger): void {
  for (const image of outcome.images.filter((i) => !i.stored)) {
    log.warn(`image not stored, answering with the upstream link: ${image.storeError}`);
  }
  if (outcome.droppedLinks > 0) {
    log.warn(
      `${outcome.droppedLinks} image(s) left out: the upstream link was not a valid http(s) URL`,
    );
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
  context: RequestContext & {
    progress?: (line: string) => void;
    keepBytes?: boolean;
    /** The format the answer's images are sent in, when not their own (`output_format.ts`). */
    output?: OutputWant;
  },
): Promise<ToolsOutcome> {
  const departed = context.gate?.departed;
  const revisedPrompt = await maybeEnhance(prompt, services, {
    ...context,
    // Nothing is billed for the image yet: a client that leaves stops the rewrite.
    signal: departed ? AbortSignal.any([departed, services.shutdown.signal]) : undefined,
  });
  const plan = withPrompt(planned, revisedPrompt);
  const size = plan.bodies[0].image_size;
  context.progress?.(
    `Generating ${plan.count} image${plan.count === 1 ? "" : "s"} with ${plan.model}` +
      `${size ? ` at ${size}` : ""}…`,
  );
  const started = performance.now();
  noteRequest({ model: plan.model, prompt: services.config.logPrompts ? prompt : undefined });
  const inFlight = services.metrics.generationsInFlight;
  inFlight.inc();
  const outcome = await generateFor(plan, services, context).finally(() => inFlight.dec());
  await convertOutputs(outcome.images, context.output, {
    images: services.images,
    log: services.log,
    keepBytes: context.keepBytes ?? false,
  });
  noteRequest({
    images: outcome.images.length,
    bytesStored: outcome.images.reduce((sum, i) => sum + (i.stored?.meta.size ?? 0), 0),
  });
  logOutcome(outcome, plan.bodies.length, services.log);
  context.progress?.(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  return { outcome, plan, revisedPrompt };
}
