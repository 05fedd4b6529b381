/**
 * Answering an Images API request (generation or edit) once it is parsed: the blocklist, the
 * upstream plan, generation with the prompt tools, and OpenAI's `ImagesResponse` with durable
 * links. Shared by `POST /v1/images/generations` and `POST /v1/images/edits`.
 *
 * @module
 */
import type { ImageRequest } from "../openai/image_request.ts";
import { type AnswerImage, toImagesResponse } from "../openai/images_response.ts";
import { type ImageStreamKind, streamImages } from "../openai/image_stream.ts";
import { answerFormat } from "../openai/response_format.ts";
import type { GatewayServices } from "../services.ts";
import { imageLink, publicOrigin } from "../storage/links.ts";
import {
  forRequest,
  type GeneratedImage,
  generateWithTools,
  type GenerationOutcome,
  linkOf,
  type RequestContext,
} from "./generate.ts";
import { checkBannedKeywords } from "./prompt_tools.ts";
import { planUpstreamCalls } from "./upstream_plan.ts";

/** Tells a client that its model id was replaced (an OpenAI id without an alias, or no edit model). */
export const MODEL_SUBSTITUTED_HEADER = "x-model-substituted";

export interface AnswerOptions extends RequestContext {
  /** Which OpenAI stream events to use for `stream: true`. */
  kind?: ImageStreamKind;
  /** The incoming request, for the origin of image links. */
  request: Request;
  /** Extra response headers, e.g. a note that a mask was ignored. */
  headers?: Record<string, string>;
  /** The model id as the client sent it, before aliases: gpt-image ids are answered in base64. */
  requestedModel?: string | null;
}

/** `kv` when every image is stored, `upstream-fallback` when any answer uses SiliconFlow's link. */
export function storageState(outcome: GenerationOutcome): "kv" | "upstream-fallback" {
  return outcome.images.every((i) => i.stored) ? "kv" : "upstream-fallback";
}

/** An image as the answer carries it: its link (ours when stored), and its bytes if downloaded. */
function answerImage(image: GeneratedImage, linkFor: (id: string, ext: string) => string) {
  return {
    url: linkOf(image, linkFor),
    bytes: image.bytes,
    ext: image.type?.ext,
    seed: image.seed,
  } satisfies AnswerImage;
}

/**
 * Generates the images a parsed request asks for and answers OpenAI's `ImagesResponse`. The
 * request's `model` is the one `chooseModel()` chose.
 */
export async function answerImages(
  req: ImageRequest,
  services: GatewayServices,
  options: AnswerOptions,
): Promise<Response> {
  const { config } = services;
  checkBannedKeywords(req.prompt, config.bannedKeywords);
  const planned = planUpstreamCalls(req, {
    defaultModel: config.defaultModel,
    maxImages: config.maxImagesPerRequest,
  });
  const headers: Record<string, string> = { ...options.headers };
  if (planned.dropped.length > 0) headers["x-params-dropped"] = planned.dropped.join(",");
  const origin = publicOrigin(options.request, config.publicBaseUrl);

  // Enhancement comes after every check, so a refused request never pays for an LLM call.
  const generate = async (signal?: AbortSignal, streamed = false) => {
    // Stream events always carry b64_json beside the durable link, whatever was asked.
    const { format, alsoBase64 } = streamed
      ? { format: "url" as const, alsoBase64: true }
      : answerFormat(
        req.response_format,
        options.requestedModel,
        options.request.headers.get("user-agent"),
        config,
      );
    const keepBytes = alsoBase64 || format === "b64_json";
    const { outcome, plan, revisedPrompt } = await generateWithTools(
      planned,
      req.prompt,
      services,
      { ...options, signal, keepBytes },
    );
    const linkFor = (id: string, ext: string) => imageLink(origin, id, ext);
    const body = toImagesResponse(outcome.images.map((image) => answerImage(image, linkFor)), {
      format,
      alsoBase64,
      created: Math.floor(Date.now() / 1000),
      model: plan.model,
      size: plan.size,
      revisedPrompt,
      inference: outcome.inference,
    });
    return { outcome, body };
  };

  // Counted before any stream starts, so that a client over its limit gets a plain 429.
  const admission = await services.limits.admit(options.client, planned.count);
  if (req.stream) {
    return streamImages(options.kind ?? "image_generation", async (signal) => {
      try {
        const { outcome, body } = await generate(signal, true);
        return { response: body, fallback: outcome.images.map((image) => !image.stored) };
      } finally {
        await admission.release();
      }
    }, {
      keepAliveMs: config.keepAliveMs,
      keepAliveFormat: config.keepAliveFormat,
      log: services.log,
      headers,
      closing: services.shutdown.signal,
    });
  }
  const { outcome, body } = await forRequest(options.request, services.shutdown.signal, generate)
    .finally(() => admission.release());
  headers["x-image-storage"] = storageState(outcome);
  if (outcome.failedCalls.length > 0) {
    headers["x-images-failed"] = String(outcome.failedCalls.length);
  }
  return Response.json(body, { headers });
}
