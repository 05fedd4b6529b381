/**
 * The input images of an edit request, made ready for SiliconFlow: each file, data URI or URL a
 * client sent becomes a `data:` URI typed by the image's own bytes, or an http(s) URL. Sizes are
 * capped before any file is read, and anything that is not a PNG, JPEG, WebP or GIF is refused.
 *
 * @module
 */
import { toBase64 } from "../base64.ts";
import { MB } from "../env_values.ts";
import { InvalidRequestError, PayloadTooLargeError } from "../errors.ts";
import { sniffImageType } from "../storage/image_type.ts";

/**
 * Largest input image. SiliconFlow documents no limit (images go to it inline, as base64 JSON);
 * OpenAI's "Create image edit" allows 4 MB for dall-e-2. 10 MB holds a full-resolution phone photo
 * while leaving room for more than two under {@link MAX_INPUT_IMAGES_TOTAL_BYTES}.
 */
export const MAX_INPUT_IMAGE_BYTES = 10 * MB;
/**
 * Largest total of input images in one request: under `app.ts`'s 32 MB body limit, so this clear
 * message is what a client sees, and three images inline as base64 stay near 33 MB.
 */
export const MAX_INPUT_IMAGES_TOTAL_BYTES = 25 * MB;

/** One input image as it arrived; `label` names it in error messages (`image[1]`, a file name). */
export interface ImagePart {
  value: unknown;
  param: string;
  label: string;
  /** 0 for the list fields, 2 and 3 for SiliconFlow's `image2`/`image3`. */
  rank: number;
  /** N of `image[N]`. */
  index?: number;
}

const DATA_URI = /^data:([^,]*?);base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

type Source =
  | { kind: "file"; file: File; bytes: number }
  | { kind: "data"; payload: string; bytes: number }
  | { kind: "url"; url: string; bytes: number };

/**
 * The parts as upstream input images, in order.
 *
 * @throws {InvalidRequestError} for parts that are not images
 * @throws {PayloadTooLargeError} for an image over {@link MAX_INPUT_IMAGE_BYTES} or images over
 *   {@link MAX_INPUT_IMAGES_TOTAL_BYTES} together
 */
export async function toInputImages(parts: ImagePart[]): Promise<string[]> {
  const sources = parts.map((p, i) => sourceOf(p, i));
  // Sizes are checked before any file is read.
  let total = 0;
  sources.forEach((source, i) => {
    if (source.bytes > MAX_INPUT_IMAGE_BYTES) {
      throw new PayloadTooLargeError(
        `Input image ${i + 1} (${parts[i].label}) is ${source.bytes} bytes; each input image may ` +
          `be at most ${MAX_INPUT_IMAGE_BYTES / MB} MB (${MAX_INPUT_IMAGE_BYTES} bytes)`,
        { param: parts[i].param },
      );
    }
    total += source.bytes;
  });
  if (total > MAX_INPUT_IMAGES_TOTAL_BYTES) {
    throw new PayloadTooLargeError(
      `The ${parts.length} input images are ${total} bytes together; a request may carry at most ` +
        `${MAX_INPUT_IMAGES_TOTAL_BYTES / MB} MB (${MAX_INPUT_IMAGES_TOTAL_BYTES} bytes) of images`,
      { param: "image" },
    );
  }
  return await Promise.all(sources.map(async (source, i) => {
    if (source.kind === "url") return source.url;
    const head = source.kind === "file"
      ? new Uint8Array(await source.file.slice(0, 12).arrayBuffer())
      : decodeHead(source.payload);
    const type = head && sniffImageType(head);
    if (!type) {
      throw new InvalidRequestError(
        `Input image ${i + 1} (${parts[i].label}) is not a PNG, JPEG, WebP or GIF image ` +
          "(judged by its content, not its name or declared type)",
        { param: parts[i].param, code: "invalid_image" },
      );
    }
    const base64 = source.kind === "file"
      ? toBase64(new Uint8Array(await source.file.arrayBuffer()))
      : source.payload;
    return `data:${type.mime};base64,${base64}`;
  }));
}

/** What one part holds; strings must be data URIs or http(s) URLs. */
function sourceOf(p: ImagePart, i: number): Source {
  if (p.value instanceof File) return { kind: "file", file: p.value, bytes: p.value.size };
  const ref = referenceOf(p.value)?.trim();
  const dataUri = ref === undefined ? null : DATA_URI.exec(ref);
  if (ref !== undefined && dataUri) {
    // Some encoders wrap base64 at 76 columns, and SiliconFlow's own example has a space after
    // the comma; neither belongs in the payload.
    const payload = ref.slice(dataUri[0].length).replace(/\s+/g, "");
    if (BASE64.test(payload)) {
      const padding = payload.endsWith("==") ? 2 : payload.endsWith("=") ? 1 : 0;
      return { kind: "data", payload, bytes: Math.floor(payload.length * 3 / 4) - padding };
    }
  } else if (ref !== undefined && /^https?:\/\/\S+$/i.test(ref) && URL.canParse(ref)) {
    return { kind: "url", url: ref, bytes: 0 };
  }
  throw new InvalidRequestError(
    `Input image ${i + 1} (${p.label}) cannot be used: send a file, a data:image/…;base64 URI ` +
      'or an http(s) URL (also as {"image_url": {"url": …}})',
    { param: p.param, code: "invalid_image" },
  );
}

/** A string, or the URL of `{image_url: "…"}` / `{image_url: {url: "…"}}`. */
function referenceOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value !== "object" || value === null) return undefined;
  const imageUrl = (value as { image_url?: unknown }).image_url;
  if (typeof imageUrl === "string") return imageUrl;
  const url = (imageUrl as { url?: unknown } | null | undefined)?.url;
  return typeof url === "string" ? url : undefined;
}

/** The first 12 bytes of a base64 payload: enough for {@link sniffImageType}. */
function decodeHead(payload: string): Uint8Array | undefined {
  const head = payload.slice(0, 16).replace(/=+$/, "");
  try {
    return Uint8Array.from(
      atob(head.slice(0, head.length - (head.length % 4))),
      (c) => c.charCodeAt(0),
    );
  } catch {
    return undefined;
  }
}
