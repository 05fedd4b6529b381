/**
 * OpenAI's image streaming (`stream: true` on generations and edits), emulated: SiliconFlow does
 * not stream images, so the stream carries keep-alive comments while it works, then one
 * `image_generation.completed` (or `image_edit.completed`) event per image with `b64_json`, as
 * the SDK requires, and the durable `url` as an extra field. Failures become an `error` event. The
 * stream ends with `data: [DONE]`, where the SDK stops (new-api's emulation does the same). A
 * client that leaves does not stop work already billed: its answer is kept for its retry.
 *
 * @module
 */
import { errorFields, shuttingDown, UpstreamError } from "../errors.ts";
import type { ImagesResponse } from "./images_response.ts";
import type { Logger } from "../observability/log.ts";
import { type KeepAliveFormat, sseResponse } from "./sse.ts";

export type ImageStreamKind = "image_generation" | "image_edit";

export interface ImageStreamOptions {
  keepAliveMs: number;
  /**
   * `data` sends `{"type":"keepalive"}` (the event OpenAI's own Responses streams use), which the
   * SDK yields and callers skip, as they skip every event type they do not handle.
   */
  keepAliveFormat: KeepAliveFormat;
  log: Logger;
  headers?: Record<string, string>;
  /** Aborts when the gateway's shutdown grace ends: the stream then ends with an error event. */
  closing?: AbortSignal;
  /** How long the end is held to see whether the client is still there (`held_answer.ts`). */
  holdMs?: () => number;
}

/** What the stream sends: the answer, and which of its images are only SiliconFlow's link. */
export interface StreamedImages {
  response: ImagesResponse;
  /** Per item of `response.data`: not stored, so its `url` is SiliconFlow's (about an hour). */
  fallback: readonly boolean[];
  /** Told whether the events were queued before the client left (else the answer is kept). */
  settle?: (queued: boolean) => Promise<void>;
}

/**
 * Streams the images `work` makes as OpenAI's `*.completed` events. An image that could not be
 * stored keeps SiliconFlow's link and says so with `"storage": "upstream-fallback"` (the header a
 * JSON answer uses cannot follow a stream that has started); one whose bytes never arrived has an
 * empty `b64_json`, so no paid image is ever left out.
 */
export function streamImages(
  kind: ImageStreamKind,
  work: (departed: AbortSignal) => Promise<StreamedImages>,
  { keepAliveMs, keepAliveFormat, log, headers, closing, holdMs }: ImageStreamOptions,
): Response {
  return sseResponse(async (sse, departed) => {
    // Told in any case once the work gave an answer: written (queued to the client) or not.
    let settle: StreamedImages["settle"];
    let queued = false;
    try {
      const streamed = await work(departed);
      settle = streamed.settle;
      const { response, fallback } = streamed;
      const type = `${kind}.completed`;
      if (response.data.length === 0) {
        throw new UpstreamError(502, "SiliconFlow answered without images", {
          code: "upstream_bad_response",
        });
      }
      for (const [i, item] of response.data.entries()) {
        sse.data({
          type,
          // Always present: the SDK's event types require it (empty when the download failed).
          b64_json: item.b64_json ?? "",
          url: item.url,
          ...(fallback[i] ? { storage: "upstream-fallback" } : {}),
          ...(item.revised_prompt ? { revised_prompt: item.revised_prompt } : {}),
          created_at: response.created,
          size: response.size ?? "auto",
          quality: "auto",
          background: "auto",
          output_format: response.output_format ?? "png",
          usage: {
            input_tokens: 0,
            output_tokens: 0,
            total_tokens: 0,
            input_tokens_details: { text_tokens: 0, image_tokens: 0 },
          },
        }, type);
      }
      queued = await sse.hold(holdMs?.() ?? 0);
      sse.done();
    } catch (err) {
      if (sse.closed) return;
      sse.data({ type: "error", error: errorFields(err, log) }, "error");
      sse.done();
    } finally {
      await settle?.(queued);
    }
  }, {
    keepAlive: {
      ms: keepAliveMs,
      format: keepAliveFormat,
      frame: (sse) => sse.data({ type: "keepalive" }, "keepalive"),
    },
    headers,
    closing: closing && {
      signal: closing,
      farewell: (sse) =>
        sse.data({ type: "error", error: errorFields(shuttingDown(), log) }, "error"),
    },
  });
}
