/**
 * Image bytes in an S3-compatible object store (AWS S3, Cloudflare R2, Backblaze B2, Garage,
 * Ceph, MinIO), one object per image at `S3_PREFIX + id`, requests signed with `aws4fetch`
 * (SigV4). KV keeps the metadata and stays the source of truth: the object is written before the
 * metadata commits, under a pending marker, so a crash leaves an object the sweeper removes and
 * never an image without bytes.
 *
 * An object is sent in one PUT with its length, which S3 requires (Deno sends stream bodies
 * chunked): an image being stored is held whole, up to `MAX_IMAGE_BYTES`, while it uploads.
 *
 * @module
 */
import { AwsClient } from "aws4fetch";
import type { S3Config } from "../config.ts";
import type { BlobStore, BlobWriter, ByteRange } from "./blob_store.ts";
import { ByteCollector } from "./download.ts";
import {
  commit,
  commitMeta,
  type ImageMeta,
  newImageId,
  pendingKey,
  type PendingMarker,
  type StoredImage,
} from "./image_meta.ts";
import type { ImageFacts } from "./kv_store.ts";

/** An S3 request that failed; the message names the operation and status, never a key. */
export class S3Error extends Error {
  readonly status: number;
  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "S3Error";
    this.status = status;
  }
}

/** A bucket reached through signed requests; `fetch` is injected like every outgoing call's. */
export class S3Bucket {
  readonly config: S3Config;
  readonly #client: AwsClient;
  readonly #fetch: typeof fetch;

  constructor(config: S3Config, fetch: typeof globalThis.fetch = globalThis.fetch) {
    this.config = config;
    this.#fetch = fetch;
    // Retries are ours to decide: aws4fetch's own would replay PUTs for 10 rounds on a 5xx.
    this.#client = new AwsClient({
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      region: config.region,
      service: "s3",
      retries: 0,
    });
  }

  /** `https://endpoint/bucket/key` (path style) or `https://bucket.endpoint/key`. */
  url(key = ""): string {
    const path = key.split("/").map(encodeURIComponent).join("/");
    const { endpoint, bucket, pathStyle } = this.config;
    if (pathStyle) return `${endpoint}/${bucket}/${path}`;
    const base = new URL(endpoint);
    return `${base.protocol}//${bucket}.${base.host}${base.pathname.replace(/\/$/, "")}/${path}`;
  }

  /** Signs and sends one request; network failures become {@link S3Error} with status 0. */
  async request(what: string, url: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await this.#fetch(await this.#client.sign(url, init));
    } catch (err) {
      throw new S3Error(`${what}: cannot reach ${this.config.endpoint}: ${message(err)}`, 0, {
        cause: err,
      });
    }
  }

  objectKey(id: string): string {
    return `${this.config.prefix}${id}`;
  }

  async put(id: string, bytes: Uint8Array<ArrayBuffer>, type: string): Promise<void> {
    const res = await this.request("S3 upload", this.url(this.objectKey(id)), {
      method: "PUT",
      body: bytes,
      headers: { "content-type": type },
    });
    await expectOk(res, `S3 upload of image ${id}`);
  }

  async delete(id: string): Promise<void> {
    const res = await this.request("S3 deletion", this.url(this.objectKey(id)), {
      method: "DELETE",
    });
    // Deleting what is not there is done: S3 answers 204, some stores 404.
    if (res.status === 404) await res.body?.cancel();
    else await expectOk(res, `S3 deletion of image ${id}`);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Checks a response; an error names the operation and S3's error code, e.g. `NoSuchBucket`. */
export async function expectOk(res: Response, what: string): Promise<void> {
  if (res.ok) {
    await res.body?.cancel();
    return;
  }
  const body = await res.text().catch(() => "");
  const code = /<Code>([^<]{1,100})<\/Code>/.exec(body)?.[1];
  throw new S3Error(`${what} failed: HTTP ${res.status}${code ? ` ${code}` : ""}`, res.status);
}

class S3Writer implements BlobWriter {
  readonly id = newImageId();
  readonly #bucket: S3Bucket;
  readonly #kv: Deno.Kv;
  readonly #now: number;
  readonly #ttlMs: number;
  readonly #bytes: ByteCollector;

  constructor(
    bucket: S3Bucket,
    kv: Deno.Kv,
    options: { now?: number; ttlMs?: number; size?: number },
  ) {
    this.#bucket = bucket;
    this.#kv = kv;
    this.#now = options.now ?? Date.now();
    this.#ttlMs = options.ttlMs ?? 0;
    this.#bytes = new ByteCollector(options.size);
  }

  write(bytes: Uint8Array): Promise<void> {
    this.#bytes.push(bytes);
    return Promise.resolve();
  }

  async close(facts: ImageFacts): Promise<StoredImage> {
    const bytes = this.#bytes.bytes();
    const meta: ImageMeta = {
      v: 1,
      type: facts.type.mime,
      size: bytes.length,
      sha256: facts.sha256,
      chunks: 0,
      createdAt: this.#now,
      expiresAt: this.#ttlMs > 0 ? this.#now + this.#ttlMs : null,
      store: "s3",
    };
    const marker: PendingMarker = { since: this.#now, store: "s3" };
    await commit(this.#kv.atomic().set(pendingKey(this.id), marker), "marker");
    try {
      await this.#bucket.put(this.id, bytes, meta.type);
      await commit(commitMeta(this.#kv.atomic(), this.id, meta, { pending: true }), "metadata");
    } catch (err) {
      // The marker stays if this fails too: the sweeper removes the object later.
      await this.#bucket.delete(this.id).then(
        () => this.#kv.delete(pendingKey(this.id)),
        () => {},
      ).catch(() => {});
      throw err;
    }
    return { id: this.id, meta };
  }

  abort(): Promise<void> {
    // Nothing reaches the bucket before close().
    return Promise.resolve();
  }
}

/** Image bytes as objects in `bucket`; metadata in `kv`. */
export function s3BlobStore(bucket: S3Bucket, kv: Deno.Kv): BlobStore {
  return {
    kind: "s3",
    create: (options) => new S3Writer(bucket, kv, options),
    read: (id, meta, range, onError) => readObject(bucket, id, meta, range, onError),
    delete: (id) => bucket.delete(id),
  };
}

/**
 * Streams `[start, end)` of an image's object, only as fast as the reader takes it. A failed
 * request or a body that ends short errors the stream (after `onError`, once).
 */
function readObject(
  bucket: S3Bucket,
  id: string,
  meta: ImageMeta,
  { start, end }: ByteRange,
  onError?: (err: Error) => void,
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let received = 0;
  const fail = (err: Error) => {
    onError?.(err);
    return err;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (end <= start) return controller.close();
      if (!reader) {
        const whole = start === 0 && end === meta.size;
        const res = await bucket.request(
          `S3 read of image ${id}`,
          bucket.url(bucket.objectKey(id)),
          {
            headers: whole ? {} : { range: `bytes=${start}-${end - 1}` },
          },
        ).catch((err) => {
          throw fail(err);
        });
        if (res.status !== (whole ? 200 : 206)) {
          await expectOk(res, `S3 read of image ${id}`).catch((err) => {
            throw fail(err);
          });
          throw fail(
            new S3Error(`S3 read of image ${id}: unexpected HTTP ${res.status}`, res.status),
          );
        }
        reader = res.body!.getReader();
      }
      const next = await reader.read().catch((err) => {
        throw fail(new Error(`S3 read of image ${id} broke off: ${message(err)}`));
      });
      if (next.done) {
        if (received !== end - start) {
          throw fail(
            new Error(`S3 read of image ${id} ended after ${received} of ${end - start} bytes`),
          );
        }
        return controller.close();
      }
      received += next.value.length;
      controller.enqueue(next.value);
    },
    async cancel() {
      await reader?.cancel().catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/**
 * Checks at start that the bucket exists and the keys may write to it: a HEAD of the bucket, then
 * a small probe object written and deleted. Throws an {@link S3Error} saying what to fix.
 */
export async function checkBucket(bucket: S3Bucket): Promise<void> {
  const { bucket: name, endpoint } = bucket.config;
  const head = await bucket.request("S3 check", bucket.url());
  await head.body?.cancel();
  if (head.status === 404) {
    throw new S3Error(`S3 bucket "${name}" does not exist at ${endpoint} (S3_BUCKET)`, 404);
  }
  if (head.status === 401 || head.status === 403) {
    throw new S3Error(
      `S3 at ${endpoint} refused the credentials for bucket "${name}" (HTTP ${head.status}); ` +
        "check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION",
      head.status,
    );
  }
  if (!head.ok) {
    throw new S3Error(
      `S3 check of bucket "${name}" at ${endpoint} failed: HTTP ${head.status}`,
      head.status,
    );
  }
  const probe = `.sf-image-gateway-probe-${newImageId()}`;
  await bucket.put(probe, new Uint8Array([0]), "application/octet-stream");
  await bucket.delete(probe);
}
