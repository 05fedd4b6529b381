/**
 * Downloads an upstream image URL with a timeout and a size cap, and checks by its bytes that it
 * really is an image. SiliconFlow's links live one hour, so this runs before the client is answered.
 *
 * The image is held whole in memory (up to `MAX_IMAGE_BYTES`), not streamed into KV: its type is
 * sniffed and its hash taken before it is stored, base64 answers need the bytes, and the memory
 * cache keeps them for the first fetches of the new link.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { type ImageType, sniffImageType } from "./image_type.ts";

export interface DownloadOptions {
  fetch: typeof fetch;
  timeoutMs: number;
  maxBytes: number;
}

export interface DownloadedImage {
  bytes: Uint8Array<ArrayBuffer>;
  type: ImageType;
  /** Hex SHA-256 of the bytes, computed while they arrived. */
  sha256: string;
}

/** Why a download failed; the message never contains the URL's signature. */
export class DownloadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DownloadError";
  }
}

/** The URL without its query string (which holds the OSS signature), and data URIs by size. */
export function describeUrl(url: string): string {
  if (url.startsWith("data:")) return `a data URI of ${url.length} characters`;
  if (!URL.canParse(url)) return "(invalid URL)";
  const { protocol, host, pathname } = new URL(url);
  return `${protocol}//${host}${pathname}`;
}

/**
 * Only web URLs and the data URIs the client builds from base64 replies are fetched: Deno's
 * `fetch` also reads `file:` URLs, which an upstream reply must never make us publish.
 */
const FETCHABLE = /^(https?:|data:)/i;

/** Downloads and sniffs one image. */
export async function downloadImage(
  url: string,
  { fetch, timeoutMs, maxBytes }: DownloadOptions,
): Promise<DownloadedImage> {
  const where = describeUrl(url);
  if (!FETCHABLE.test(url)) {
    throw new DownloadError(`Cannot download image from ${where}: not http(s)`);
  }
  let res: Response;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    res = await fetch(url, { signal });
  } catch (err) {
    throw new DownloadError(
      signal.aborted
        ? `Cannot download image from ${where}: no answer within ${timeoutMs} ms`
        : `Cannot download image from ${where}: ${err instanceof Error ? err.message : err}`,
      { cause: err },
    );
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new DownloadError(`Cannot download image from ${where}: HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw new DownloadError(
      `Image at ${where} is ${declared} bytes, over the ${maxBytes}-byte cap`,
    );
  }
  const { bytes, sha256 } = await readCapped(res, maxBytes, where, signal);
  const type = sniffImageType(bytes);
  if (!type) throw new DownloadError(`Content at ${where} is not a PNG, JPEG, WebP or GIF image`);
  return { bytes, type, sha256 };
}

async function readCapped(
  res: Response,
  maxBytes: number,
  where: string,
  signal: AbortSignal,
): Promise<{ bytes: Uint8Array<ArrayBuffer>; sha256: string }> {
  const hash = createHash("sha256");
  const declared = Number(res.headers.get("content-length") ?? NaN);
  // Pre-size the buffer when the length is known, so a 1 MB image is copied once.
  let buffer = new Uint8Array(Number.isFinite(declared) && declared > 0 ? declared : 256 * 1024);
  let length = 0;
  try {
    for await (const part of res.body ?? []) {
      if (length + part.length > maxBytes) {
        throw new DownloadError(`Image at ${where} is over the ${maxBytes}-byte cap`);
      }
      if (length + part.length > buffer.length) {
        const grown = new Uint8Array(
          Math.min(Math.max(buffer.length * 2, length + part.length), maxBytes),
        );
        grown.set(buffer.subarray(0, length));
        buffer = grown;
      }
      buffer.set(part, length);
      hash.update(part);
      length += part.length;
    }
  } catch (err) {
    if (err instanceof DownloadError) throw err;
    throw new DownloadError(
      signal.aborted
        ? `Cannot download image from ${where}: not complete within the time limit`
        : `Cannot download image from ${where}: ${err instanceof Error ? err.message : err}`,
      { cause: err },
    );
  }
  const bytes = length === buffer.length ? buffer : buffer.slice(0, length);
  return { bytes, sha256: hash.digest("hex") };
}
