/**
 * Answering an Images API request (generation or edit) once it is parsed: the blocklist, the
 * upstream plan, the delivery (a kept answer, another request's, or a new generation with the
 * prompt tools; see `delivery.ts`), and OpenAI's `ImagesResponse` with durable links. Shared by
 * `POST /v1/images/generations` and `POST /v1/images/edits`.
 *
 * Once images are paid for, nothing may fail their answer: a failure while shaping it still hands
 * over the links, and an answer its client did not take is kept for the retry.
 *
 * @module
 */
import type { ImageRequest } from "../openai/image_request.ts";
import { type ImagesResponse, toImagesResponse } from "../openai/images_response.ts";
import { type ImageStreamKind, streamImages } from "../openai/image_stream.ts";
import { answerFormat } from "../openai/response_format.ts";
import type { GatewayServices } from "../services.ts";
import { publicOrigin } from "../storage/links.ts";
import { producedOf, recordedBytes, recordedLink, storageState } from "./answer_record.ts";
import { deliverJson, holdFor, settleDelivery } from "./delivered.ts";
import { type Delivery, deliveryHeaders, DeliverySession, type SendGate } from "./delivery.ts";
import { forRequest, generateWithTools, type RequestContext } from "./generate.ts";
import type { OutputWant } from "./output_format.ts";
import { checkBannedKeywords } from "./prompt_tools.ts";
import { fingerprint, IDEMPOTENCY_HEADER, idempotencyKeyOf } from "./request_identity.ts";
import { planUpstreamCalls } from "./upstream_plan.ts";

/** Tells a client that its model id was replaced (an OpenAI id without an alias, or no edit model). */
export const MODEL_SUBSTITUTED_HEADER = "x-model-substituted";

/**
 * `asked -> chosen` for {@link MODEL_SUBSTITUTED_HEADER}. The asked id is the client's text: what
 * a header cannot carry (controls, anything past ASCII) is percent-encoded, so the header can
 * never fail the answer of images already paid for.
 */
export function substitutionNote(asked: string | null | undefined, chosen: string): string {
  return `${headerText(asked ?? "")} -> ${headerText(chosen)}`;
}

const utf8 = new TextEncoder();

function headerText(text: string): string {
  let out = "";
  for (const c of text.slice(0, 256)) {
    out += c >= " " && c <= "~" && c !== "%"
      ? c
      : Array.from(utf8.encode(c), (b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`)
        .join("");
  }
  return out;
}

export interface AnswerOptions extends RequestContext {
  /** Which OpenAI stream events to use for `stream: true`; edits also fingerprint as edits. */
  kind?: ImageStreamKind;
  /** The incoming request, for the origin of image links and the client leaving. */
  request: Request;
  /** Settles once the answer was written to the client (Deno's `info.completed`), if known. */
  completed?: Promise<void>;
  /** Extra response headers, e.g. a note that a mask was ignored. */
  headers?: Record<string, string>;
  /** The model id as the client sent it, before aliases: gpt-image ids are answered in base64. */
  requestedModel?: string | null;
}

/** The format asked with `output_format` and `output_compression`, if any. */
function outputOf(req: ImageRequest): OutputWant | undefined {
  if (!req.output_format) return undefined;
  return { format: req.output_format, compression: req.output_compression };
}

/**
 * Generates the images a parsed request asks for (or hands over the kept answer of an identical
 * one) and answers OpenAI's `ImagesResponse`. The request's `model` is the one `chooseModel()`
 * chose.
 */
export async function answerImages(
  req: ImageRequest,
  services: GatewayServices,
  options: AnswerOptions,
): Promise<Response> {
  const { config, log } = services;
  checkBannedKeywords(req.prompt, config.bannedKeywords);
  const planned = planUpstreamCalls(req, {
    defaultModel: config.defaultModel,
    maxImages: config.maxImagesPerRequest,
  });
  const headers: Record<string, string> = { ...options.headers };
  if (planned.dropped.length > 0) headers["x-params-dropped"] = planned.dropped.join(",");
  const origin = publicOrigin(options.request, config.publicBaseUrl, config.trustProxyHeaders);
  const kind = options.kind ?? "image_generation";
  // Stream events always carry b64_json beside the durable link, whatever was asked.
  const { format, alsoBase64 } = req.stream
    ? { format: "url" as const, alsoBase64: true }
    : answerFormat(
      req.response_format,
      options.requestedModel,
      options.request.headers.get("user-agent"),
      config,
    );
  const keepBytes = alsoBase64 || format === "b64_json";

  // Every refusal (limits, a reused idempotency key) comes before any stream starts.
  const session = await DeliverySession.open(services, {
    client: options.client,
    fingerprint: fingerprint(kind, { req, requestedModel: options.requestedModel ?? null }),
    idempotencyKey: idempotencyKeyOf(options.request.headers.get(IDEMPOTENCY_HEADER)),
    images: planned.count,
  });
  // Enhancement comes after every check, so a refused request never pays for an LLM call.
  const produce = async (gate: SendGate) => {
    const { outcome, plan, revisedPrompt } = await generateWithTools(
      planned,
      req.prompt,
      services,
      { ...options, gate, keepBytes, output: outputOf(req) },
    );
    return producedOf(outcome, plan, revisedPrompt);
  };
  const render = async (delivery: Delivery): Promise<ImagesResponse> => {
    const { record } = delivery;
    const bytes = keepBytes ? await recordedBytes(delivery, services.images) : [];
    return toImagesResponse(
      record.images.map((image, i) => ({
        url: recordedLink(image, origin) ?? "",
        bytes: bytes[i],
        ext: image.ext,
        seed: image.seed,
      })),
      {
        format,
        alsoBase64,
        created: Math.floor(Date.now() / 1000),
        model: record.model,
        size: record.size,
        revisedPrompt: record.revisedPrompt,
        inference: record.inference,
      },
    );
  };
  // Paid images are handed over even if shaping their answer fails: as bare links.
  const renderSafely = async (delivery: Delivery): Promise<ImagesResponse> => {
    try {
      return await render(delivery);
    } catch (err) {
      log.error("cannot shape the images answer; answering with the bare links:", err);
      return {
        created: Math.floor(Date.now() / 1000),
        model: delivery.record.model,
        data: delivery.record.images.map((image) => ({ url: recordedLink(image, origin) })),
      };
    }
  };

  if (req.stream) {
    return streamImages(kind, async (departed) => {
      const delivery = await session.run(produce, departed);
      return {
        response: await renderSafely(delivery),
        fallback: delivery.record.images.map((image) => image.id === undefined),
        settle: (queued: boolean) =>
          settleDelivery(delivery, { left: !queued, completed: options.completed, log }),
      };
    }, {
      keepAliveMs: config.keepAliveMs,
      keepAliveFormat: config.keepAliveFormat,
      log,
      headers: { ...headers, ...session.knownHeaders },
      closing: services.shutdown.signal,
      holdMs: () => holdFor(options.request, options.completed),
    });
  }
  const delivery = await forRequest(
    options.request,
    services.shutdown.signal,
    (departed) => session.run(produce, departed),
  );
  headers["x-image-storage"] = storageState(delivery.record);
  if (delivery.record.failedCalls > 0) {
    headers["x-images-failed"] = String(delivery.record.failedCalls);
  }
  Object.assign(headers, deliveryHeaders(delivery));
  const body = await renderSafely(delivery);
  return deliverJson(delivery, body, headers, {
    request: options.request,
    completed: options.completed,
    log,
  });
}
