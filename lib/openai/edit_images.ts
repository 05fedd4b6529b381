/**
 * The one validator of input images, for edits and chat alike: each file, data URI or URL a
 * client sent becomes a `data:` URI typed by the image's own bytes, or an http(s) URL. Sizes are
 * capped before any image is decoded, a data URI must be real base64, and anything that is not a
 * PNG, JPEG, WebP or GIF is refused. Every scan of client text is linear and bounded first.
 *
 * @module
 */
import { toBase64 } from "../base64.ts";
import { MB } from "../config/env_values.ts";
import { InvalidRequestError, PayloadTooLargeError } from "../errors.ts";
import { sniffImageType } from "../storage/image_type.ts";

/**
 * Largest input image. SiliconFlow documents no limit (images go to it inline, as base64 JSON);
 * OpenAI's "Create image edit" allows 4 MB for dall-e-2. 10 MB holds a full-resolution phone photo
 * while leaving room for more than two under {@link MAX_INPUT_IMAGES_TOTAL_BYTES}.
 */
export const MAX_INPUT_IMAGE_BYTES = 10 * MB;
/**
 * Largest total of input images in one request: under the 32 MB body cap of `request_body.ts`, so
 * this clear message is what a client sees, and three images inline as base64 stay near 33 MB.
 */
export const MAX_INPUT_IMAGES_TOTAL_BYTES = 25 * MB;
/**
 * Most image parts one request may carry, counted as they arrive: no model takes more than 3, and
 * anything far past that is an attack on the parser, refused before any image is read.
 */
export const MAX_IMAGE_PARTS = 16;
/** Longest http(s) URL taken as an input image; servers commonly refuse URLs over 8 KB. */
export const MAX_URL_CHARS = 8192;
/** Longest `data:<type>;base64,` head looked at: types are short. */
const MAX_DATA_HEAD = 256;

/** An uploaded file as the form reader keeps it: its bytes only while within the caps above. */
export class UploadedFile {
  size = 0;
  bytes: Uint8Array | undefined;

  constructor(readonly name: string) {}
}

/** One input image as it arrived; `label` names it in error messages (`image[1]`, a file name). */
export interface ImagePart {
  /** An {@link UploadedFile}, a string, or `{image_url: …}`; anything else is refused. */
  value: unknown;
  param: string;
  label?: string;
  /** 0 for the list fields, 2 and 3 for SiliconFlow's `image2`/`image3`. */
  rank: number;
  /** N of `image[N]`. */
  index?: number;
  /** A data URI the gateway made from one of its own stored images: passed on, not counted. */
  trusted?: boolean;
}

/** Options of {@link toInputImages}. */
export interface InputImageOptions {
  /** The `param` of an error about all images together; `image` by default. */
  param?: string;
  /** Whether the endpoint takes file uploads, for the advice of an error. */
  uploads?: boolean;
}

type Source =
  | { kind: "file"; file: UploadedFile; bytes: number }
  | { kind: "data"; payload: string; bytes: number }
  | { kind: "url"; url: string; bytes: number }
  | { kind: "trusted"; url: string; bytes: number };

/**
 * The parts as upstream input images, in order.
 *
 * @throws {InvalidRequestError} for parts that are not images
 * @throws {PayloadTooLargeError} for an image over {@link MAX_INPUT_IMAGE_BYTES} or images over
 *   {@link MAX_INPUT_IMAGES_TOTAL_BYTES} together
 */
export function toInputImages(parts: ImagePart[], options: InputImageOptions = {}): string[] {
  const sources = parts.map((p, i) => sourceOf(p, i, options));
  // Sizes are checked before any image is decoded.
  let total = 0;
  sources.forEach((source, i) => {
    if (source.bytes > MAX_INPUT_IMAGE_BYTES) {
      throw new PayloadTooLargeError(
        `${describe(parts[i], i)} is ${source.bytes} bytes; each input image may ` +
          `be at most ${MAX_INPUT_IMAGE_BYTES / MB} MB (${MAX_INPUT_IMAGE_BYTES} bytes)`,
        { param: parts[i].param },
      );
    }
    total += source.bytes;
  });
  if (total > MAX_INPUT_IMAGES_TOTAL_BYTES) {
    const count = sources.filter((s) => s.kind !== "trusted").length;
    throw new PayloadTooLargeError(
      `The ${count} input images are ${total} bytes together; a request may carry at most ` +
        `${MAX_INPUT_IMAGES_TOTAL_BYTES / MB} MB (${MAX_INPUT_IMAGES_TOTAL_BYTES} bytes) of images`,
      { param: options.param ?? "image" },
    );
  }
  return sources.map((source, i) => {
    if (source.kind === "url" || source.kind === "trusted") return source.url;
    const head = source.kind === "file"
      ? source.file.bytes?.subarray(0, 12)
      : decodeHead(source.payload);
    const type = head && sniffImageType(head);
    if (!type) {
      throw new InvalidRequestError(
        `${describe(parts[i], i)} is not a PNG, JPEG, WebP or GIF image ` +
          "(judged by its content, not its name or declared type)",
        { param: parts[i].param, code: "invalid_image" },
      );
    }
    const base64 = source.kind === "file" ? toBase64(source.file.bytes!) : source.payload;
    return `data:${type.mime};base64,${base64}`;
  });
}

/** `Input image 2 (image[1])`, as error messages name the part at index `i`. */
function describe(part: ImagePart, i: number): string {
  return `Input image ${i + 1}${part.label ? ` (${part.label})` : ""}`;
}

/** What one part holds; strings must be data URIs or http(s) URLs. */
function sourceOf(p: ImagePart, i: number, options: InputImageOptions): Source {
  if (p.trusted && typeof p.value === "string") return { kind: "trusted", url: p.value, bytes: 0 };
  if (p.value instanceof UploadedFile) return { kind: "file", file: p.value, bytes: p.value.size };
  const ref = referenceOf(p.value)?.trim();
  if (ref !== undefined) {
    const payload = dataPayload(ref);
    if (payload !== undefined) {
      const padding = payload.endsWith("==") ? 2 : payload.endsWith("=") ? 1 : 0;
      return { kind: "data", payload, bytes: Math.floor(payload.length * 3 / 4) - padding };
    }
    if (ref.length <= MAX_URL_CHARS && /^https?:\/\/\S+$/i.test(ref) && URL.canParse(ref)) {
      return { kind: "url", url: ref, bytes: 0 };
    }
  }
  throw new InvalidRequestError(
    `${describe(p, i)} cannot be used: send ` +
      (options.uploads === false ? "" : "a file, ") +
      "a data:image/…;base64 URI or an http(s) URL" +
      (options.uploads === false ? "" : ' (also as {"image_url": {"url": …}})'),
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

const WHITESPACE = /\s+/g;
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;

/**
 * The base64 payload of a `data:…;base64,` URI, whitespace removed (some encoders wrap base64 at
 * 76 columns, and SiliconFlow's own example has a space after the comma), or `undefined` when it
 * is not one or not real base64. Each scan is a single pass: no pattern here can backtrack.
 */
export function dataPayload(ref: string): string | undefined {
  if (ref.slice(0, 5).toLowerCase() !== "data:") return undefined;
  const comma = ref.slice(0, MAX_DATA_HEAD).indexOf(",");
  if (comma === -1 || !ref.slice(0, comma).toLowerCase().endsWith(";base64")) return undefined;
  const payload = ref.slice(comma + 1).replace(WHITESPACE, "");
  if (NOT_BASE64.test(payload)) return undefined;
  // `=` only as the padding of a whole last quantum; without it, no quantum of one character.
  const pad = payload.indexOf("=");
  if (pad === -1) return payload.length % 4 === 1 ? undefined : payload;
  const tail = payload.slice(pad);
  return payload.length % 4 === 0 && (tail === "=" || tail === "==") ? payload : undefined;
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
