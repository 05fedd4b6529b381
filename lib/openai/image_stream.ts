/**
 * OpenAI's image streaming (`stream: true` on generations and edits), emulated: SiliconFlow does
 * not stream images, so the stream carries keep-alive comments while it works, then one
 * `image_generation.completed` (or `image_edit.completed`) event per image with `b64_json`, as
 * the SDK requires, and the durable `url` as an extra field. Failures become an `error` event. The
 * stream ends with `data: [DONE]`, where the SDK stops (new-api's emulation does the same).
 *
 * @module
 */
import { errorFields, UpstreamError } from "../errors.ts";
import type { ImagesResponse } from "./images_response.ts";
import type { Logger } from "../log.ts";
import { sseResponse } from "./sse.ts";

export type ImageStreamKind = "image_generation" | "image_edit";

export interface ImageStreamOptions {
  keepAliveMs: number;
  log: Logger;
  headers?: Record<string, string>;
}

/** Streams the images `work` makes as OpenAI's `*.completed` events. */
export function streamImages(
  kind: ImageStreamKind,
  work: (signal: AbortSignal) => Promise<ImagesResponse>,
  { keepAliveMs, log, headers }: ImageStreamOptions,
): Response {
  return sseResponse(async (sse, signal) => {
    try {
      const response = await work(signal);
      const type = `${kind}.completed`;
      // b64_json is required in every event: an image whose bytes never arrived is left out (its
      // loss is logged), and a stream with none left ends in an error.
      const items = response.data.filter((item) => item.b64_json);
      if (items.length === 0) {
        throw new UpstreamError(
          502,
          "The images were made but could not be downloaded from SiliconFlow",
          {
            code: "image_download_failed",
          },
        );
      }
      for (const item of items) {
        sse.data({
          type,
          // Always present: the SDK's event types require it (empty only if the download failed).
          b64_json: item.b64_json,
          url: item.url,
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
      sse.done();
    } catch (err) {
      if (sse.closed) return;
      sse.data({ type: "error", error: errorFields(err, log) }, "error");
      sse.done();
    }
  }, { keepAliveMs, headers });
}
