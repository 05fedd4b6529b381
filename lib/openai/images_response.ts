/**
 * OpenAI's `ImagesResponse` (`{created, data:[{url}|{b64_json}]}`), built from plain answer items;
 * never SiliconFlow's raw `images[]`. Pure: the caller has already chosen each image's link.
 *
 * @module
 */
import { toBase64 } from "../base64.ts";
import type { ResponseFormat } from "./response_format.ts";

/** One image as an answer can carry it. */
export interface AnswerImage {
  /** Where the client fetches it: our durable link, or SiliconFlow's short-lived one. */
  url: string;
  /** The image's bytes when they were downloaded; `b64_json` needs them. */
  bytes: Uint8Array | undefined;
  /** The extension of their format (`png`, `jpg`, …) when downloaded. */
  ext: string | undefined;
  seed: number | undefined;
}

export interface ImagesResponseOptions {
  format: ResponseFormat;
  /** Send `b64_json` beside `url` (for clients whose schema requires it). */
  alsoBase64?: boolean;
  /** The size SiliconFlow was asked for, reported back. */
  size?: string;
  created: number;
  model: string;
  /** The prompt SiliconFlow received, when prompt enhancement rewrote the caller's. */
  revisedPrompt?: string;
  /** Longest inference time among the upstream calls, in seconds. */
  inference?: number;
}

export interface ImageItem {
  url?: string;
  b64_json?: string;
  revised_prompt?: string;
  seed?: number;
}

export interface ImagesResponse {
  created: number;
  data: ImageItem[];
  model: string;
  output_format?: string;
  size?: string;
  timings?: { inference: number };
}

/**
 * Builds the response body. An image asked for as `b64_json` whose bytes never arrived is answered
 * with its link instead, so a paid image is never dropped. Only http(s) links are ever answered as
 * `url`: an inline image that could not be stored (an OpenAI-style upstream answers base64) goes
 * out as `b64_json` whatever was asked, since no client fetches a `data:` URI as a link.
 */
export function toImagesResponse(
  images: readonly AnswerImage[],
  options: ImagesResponseOptions,
): ImagesResponse {
  const data = images.map((image): ImageItem => {
    const item: ImageItem = {};
    const inline = /^https?:\/\//i.test(image.url) ? undefined : inlineBase64(image);
    if (inline !== undefined) item.b64_json = inline;
    else if (options.format === "b64_json" && image.bytes) {
      item.b64_json = toBase64(image.bytes);
    } else {
      item.url = image.url;
      if (options.alsoBase64 && image.bytes) item.b64_json = toBase64(image.bytes);
    }
    if (options.revisedPrompt !== undefined) item.revised_prompt = options.revisedPrompt;
    if (image.seed !== undefined) item.seed = image.seed;
    return item;
  });
  const formats = new Set(images.map((i) => i.ext));
  const response: ImagesResponse = { created: options.created, data, model: options.model };
  if (options.size) response.size = options.size;
  if (formats.size === 1 && !formats.has(undefined)) {
    response.output_format = [...formats][0] === "jpg" ? "jpeg" : [...formats][0];
  }
  if (options.inference !== undefined) response.timings = { inference: options.inference };
  return response;
}

/** The base64 of an image whose only link is a `data:` URI (the upstream's parser admits no other). */
function inlineBase64(image: AnswerImage): string {
  if (image.bytes) return toBase64(image.bytes);
  const comma = image.url.indexOf(",");
  return /;base64$/i.test(image.url.slice(0, comma)) ? image.url.slice(comma + 1) : "";
}
