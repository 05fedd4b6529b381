/**
 * Shapes OpenAI's `ImagesResponse` (`{created, data:[{url}|{b64_json}]}`) from generated images;
 * never SiliconFlow's raw `images[]`. Pure: the caller supplies how links are made.
 *
 * @module
 */
import type { GeneratedImage, GenerationOutcome } from "../generation/generate.ts";
import { imageTypeOf } from "../storage/image_type.ts";

export type ResponseFormat = "url" | "b64_json";

export interface ImagesResponseOptions {
  format: ResponseFormat;
  /** Send `b64_json` beside `url` (for clients whose schema requires it). */
  alsoBase64?: boolean;
  /** The size SiliconFlow was asked for, reported back. */
  size?: string;
  /** Durable link for a stored image, e.g. `https://gw.example/i/<id>.png`. */
  linkFor: (id: string, ext: string) => string;
  created: number;
  model: string;
  /** The prompt SiliconFlow received, when prompt enhancement rewrote the caller's. */
  revisedPrompt?: string;
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

/** Standard base64 of bytes; `toBase64` where the runtime has it (Deno Deploy runs 2.5). */
export function toBase64(bytes: Uint8Array): string {
  const native = (bytes as Uint8Array & { toBase64?: () => string }).toBase64;
  if (typeof native === "function") return native.call(bytes);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The link a client gets for an image: ours when stored, SiliconFlow's (short-lived) otherwise. */
export function linkOf(image: GeneratedImage, linkFor: ImagesResponseOptions["linkFor"]): string {
  if (!image.stored) return image.upstreamUrl;
  return linkFor(image.stored.id, imageTypeOf(image.stored.meta.type)?.ext ?? "png");
}

/** Builds the response body; items that could not be stored fall back to the upstream URL. */
export function toImagesResponse(
  outcome: GenerationOutcome,
  options: ImagesResponseOptions,
): ImagesResponse {
  const data = outcome.images.map((image): ImageItem => {
    const item: ImageItem = {};
    if (options.format === "b64_json" && image.download) {
      item.b64_json = toBase64(image.download.bytes);
    } else {
      item.url = linkOf(image, options.linkFor);
      if (options.alsoBase64 && image.download) item.b64_json = toBase64(image.download.bytes);
    }
    if (options.revisedPrompt !== undefined) item.revised_prompt = options.revisedPrompt;
    if (image.seed !== undefined) item.seed = image.seed;
    return item;
  });
  const formats = new Set(outcome.images.map((i) => i.download?.type.ext));
  const response: ImagesResponse = { created: options.created, data, model: options.model };
  if (options.size) response.size = options.size;
  if (formats.size === 1 && !formats.has(undefined)) {
    response.output_format = [...formats][0] === "jpg" ? "jpeg" : [...formats][0];
  }
  if (outcome.inference !== undefined) response.timings = { inference: outcome.inference };
  return response;
}

/** `kv` when every image is stored, `upstream-fallback` when any answer uses SiliconFlow's link. */
export function storageState(outcome: GenerationOutcome): "kv" | "upstream-fallback" {
  return outcome.images.every((i) => i.stored) ? "kv" : "upstream-fallback";
}
