/**
 * Downloads of upstream images, read as they arrive: a timeout, a size cap, the SHA-256 taken on
 * the fly, and the type judged by the first bytes (never the upstream `Content-Type`).
 * SiliconFlow's links live one hour, so this runs before the client is answered.
 *
 * The bytes are not held here: the caller streams them into storage and keeps them only when its
 * answer needs them (`b64_json`) or the memory cache takes them, gathered with `ByteCollector` or
 * `collectBytes`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { AddressGuard } from "./address_guard.ts";
import { type ImageType, sniffImageType } from "./image_type.ts";

export interface DownloadOptions {
  fetch: typeof fetch;
  timeoutMs: number;
  maxBytes: number;
  /** Checks the host of every request, redirects included; without one any http(s) host goes. */
  guard?: AddressGuard;
}

/** Why a download failed; the message never contains the URL's signature. */
export class DownloadError extends Error {
  /** Trying again may work: the connection failed, or the server answered 5xx or 429. */
  readonly transient: boolean;
  constructor(message: string, options?: ErrorOptions & { transient?: boolean }) {
    super(message, options);
    this.name = "DownloadError";
    this.transient = options?.transient ?? false;
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
/** Redirects followed by hand, each checked: more than browsers' 20 would only be a loop. */
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Bytes needed to tell the image types apart (WebP's "WEBP" ends at byte 12). */
const SNIFF_BYTES = 12;

/** What a finished download turned out to be. */
export interface DownloadedFacts {
  type: ImageType;
  sha256: string;
  size: number;
}

/**
 * An image download in progress: iterate it for the bytes, each checked against the cap and
 * hashed as it passes; the first bytes must be an image. {@link facts} tells the result once the
 * iteration has ended. Iterate once.
 */
export class ImageDownload implements AsyncIterable<Uint8Array> {
  /** `Content-Length` as the server declared it, when it did. */
  readonly declaredLength: number | undefined;
  readonly #res: Response;
  readonly #where: string;
  readonly #maxBytes: number;
  readonly #signal: AbortSignal;
  #facts: DownloadedFacts | undefined;
  #type: ImageType | undefined;

  constructor(res: Response, where: string, maxBytes: number, signal: AbortSignal) {
    const declared = Number(res.headers.get("content-length") ?? NaN);
    this.declaredLength = Number.isFinite(declared) && declared >= 0 ? declared : undefined;
    this.#res = res;
    this.#where = where;
    this.#maxBytes = maxBytes;
    this.#signal = signal;
  }

  /** The image's type, known from its first bytes. */
  get type(): ImageType | undefined {
    return this.#type;
  }

  /** Type, hash and size, once every byte was read. */
  facts(): DownloadedFacts {
    if (!this.#facts) throw new Error("the download has not been read to its end");
    return this.#facts;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    const where = this.#where;
    const hash = createHash("sha256");
    let head: Uint8Array = new Uint8Array(0);
    let type: ImageType | undefined;
    let size = 0;
    const notImage = () =>
      new DownloadError(`Content at ${where} is not a PNG, JPEG, WebP or GIF image`);
    try {
      for await (const part of this.#res.body ?? []) {
        if (size + part.length > this.#maxBytes) {
          throw new DownloadError(`Image at ${where} is over the ${this.#maxBytes}-byte cap`);
        }
        size += part.length;
        hash.update(part);
        if (!type && head.length < SNIFF_BYTES) {
          head = concatHead(head, part);
          if (head.length >= SNIFF_BYTES && !(this.#type = type = sniffImageType(head))) {
            throw notImage();
          }
        }
        yield part;
      }
    } catch (err) {
      if (err instanceof DownloadError) throw err;
      throw new DownloadError(
        this.#signal.aborted
          ? `Cannot download image from ${where}: not complete within the time limit`
          : `Cannot download image from ${where}: ${err instanceof Error ? err.message : err}`,
        { cause: err },
      );
    }
    // Shorter than the sniffing window: judged by what there is.
    this.#type = type ??= sniffImageType(head);
    if (!type) throw notImage();
    this.#facts = { type, sha256: hash.digest("hex"), size };
  }

  /** Stops reading, when the caller gives up early. */
  async cancel(): Promise<void> {
    await this.#res.body?.cancel().catch(() => {});
  }
}

function concatHead(head: Uint8Array, part: Uint8Array): Uint8Array {
  const taken = part.subarray(0, SNIFF_BYTES - head.length);
  const out = new Uint8Array(head.length + taken.length);
  out.set(head);
  out.set(taken, head.length);
  return out;
}

/**
 * Starts downloading one image: the request and status are checked here, the body as it is read.
 * Redirects are followed by hand, up to 5, and `guard` judges the host of each request before it
 * is made.
 *
 * @throws {DownloadError} when the URL is not fetchable or its host not allowed, the server fails
 *   or declares a body over the cap
 */
export async function downloadImage(url: string, options: DownloadOptions): Promise<ImageDownload> {
  const { timeoutMs, maxBytes } = options;
  if (!FETCHABLE.test(url) || !URL.canParse(url)) {
    throw new DownloadError(`Cannot download image from ${describeUrl(url)}: not http(s)`);
  }
  const signal = AbortSignal.timeout(timeoutMs);
  const { res, where } = await fetchFollowing(url, options, signal);
  if (!res.ok) {
    await res.body?.cancel();
    throw new DownloadError(`Cannot download image from ${where}: HTTP ${res.status}`, {
      transient: res.status >= 500 || res.status === 429,
    });
  }
  const download = new ImageDownload(res, where, maxBytes, signal);
  if (download.declaredLength !== undefined && download.declaredLength > maxBytes) {
    await res.body?.cancel();
    throw new DownloadError(
      `Image at ${where} is ${download.declaredLength} bytes, over the ${maxBytes}-byte cap`,
    );
  }
  return download;
}

/** The answer that is not a redirect, each hop's host checked before it is asked. */
async function fetchFollowing(
  url: string,
  { fetch, guard, timeoutMs }: DownloadOptions,
  signal: AbortSignal,
): Promise<{ res: Response; where: string }> {
  let current = url;
  for (let hop = 0;; hop++) {
    const where = describeUrl(current);
    const failed = (err: unknown) =>
      new DownloadError(
        signal.aborted
          ? `Cannot download image from ${where}: no answer within ${timeoutMs} ms`
          : `Cannot download image from ${where}: ${err instanceof Error ? err.message : err}`,
        { cause: err, transient: !signal.aborted },
      );
    // A data URI is only ever the upstream's own reply, never where a redirect leads.
    if (hop > 0 && !/^https?:/i.test(current)) {
      throw new DownloadError(`Cannot download image from ${where}: a redirect away from http(s)`);
    }
    if (!current.startsWith("data:")) {
      const refusal = await guard?.refusal(new URL(current), signal).catch((err) => {
        throw failed(err);
      });
      if (refusal) throw new DownloadError(`Cannot download image from ${where}: ${refusal}`);
    }
    let res: Response;
    try {
      res = await fetch(current, { signal, redirect: "manual" });
    } catch (err) {
      throw failed(err);
    }
    if (!REDIRECTS.has(res.status)) return { res, where };
    await res.body?.cancel();
    const location = res.headers.get("location");
    const wrong = location === null || !URL.canParse(location, current)
      ? "a redirect without a valid Location"
      : hop >= MAX_REDIRECTS
      ? `more than ${MAX_REDIRECTS} redirects`
      : undefined;
    if (wrong) throw new DownloadError(`Cannot download image from ${where}: ${wrong}`);
    current = new URL(location!, current).href;
  }
}

/**
 * Gathers bytes into one buffer, sized up front when the length is known so that an image is
 * copied once; used only where the whole image is needed.
 */
export class ByteCollector {
  #buffer: Uint8Array<ArrayBuffer>;
  #length = 0;

  constructor(expected?: number) {
    this.#buffer = new Uint8Array(expected !== undefined && expected > 0 ? expected : 256 * 1024);
  }

  push(part: Uint8Array): void {
    if (this.#length + part.length > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(this.#buffer.length * 2, this.#length + part.length));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(part, this.#length);
    this.#length += part.length;
  }

  get length(): number {
    return this.#length;
  }

  /**
   * Bytes `[start, end)` as a view, without a copy. A view stays right when the buffer later
   * grows: growing copies into a new buffer and leaves the old one as it was.
   */
  view(start: number, end: number): Uint8Array<ArrayBuffer> {
    return this.#buffer.subarray(start, end);
  }

  bytes(): Uint8Array<ArrayBuffer> {
    return this.#length === this.#buffer.length
      ? this.#buffer
      : this.#buffer.slice(0, this.#length);
  }
}

/** Reads a whole stream of an image's bytes into memory, checking its size. */
export async function collectBytes(
  stream: ReadableStream<Uint8Array>,
  id: string,
  size: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = new Uint8Array(size);
  let offset = 0;
  for await (const chunk of stream) {
    if (offset + chunk.length > size) throw new Error(`Cannot read image ${id}: size mismatch`);
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  if (offset !== size) throw new Error(`Cannot read image ${id}: size mismatch`);
  return bytes;
}
