/**
 * Image bytes in an S3-compatible object store (AWS S3, Cloudflare R2, Backblaze B2, Garage,
 * Ceph, MinIO), one object per image at `S3_PREFIX + id`, through the signed client of
 * `s3_bucket.ts`. KV keeps the metadata and stays the source of truth: the object is written before the
 * metadata commits, under a pending marker, so a crash leaves an object the sweeper removes and
 * never an image without bytes.
 *
 * An object is sent in one PUT with its length, which S3 requires (Deno sends stream bodies
 * chunked): an image being stored is held whole, up to `MAX_IMAGE_BYTES`, while it uploads.
 *
 * @module
 */
import type { BlobStore, BlobWriter, ByteRange } from "./blob_store.ts";
import { ByteCollector } from "./download.ts";
import { HEADER_BYTES, imageDims } from "./image_dims.ts";
import {
  commit,
  commitMeta,
  committedAnyway,
  type ImageMeta,
  newImageId,
  newMeta,
  pendingKey,
  type PendingMarker,
  type StoredImage,
} from "./image_meta.ts";
import type { ImageFacts } from "./kv_store.ts";
import { expectOk, type S3Bucket, S3Error } from "./s3_bucket.ts";

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

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
    const meta = newMeta(facts, {
      size: bytes.length,
      chunks: 0,
      now: this.#now,
      ttlMs: this.#ttlMs,
      store: "s3",
      dims: imageDims(bytes.subarray(0, HEADER_BYTES)),
    });
    const marker: PendingMarker = { since: this.#now, store: "s3" };
    const placed = await commit(this.#kv.atomic().set(pendingKey(this.id), marker), "marker");
    try {
      await this.#bucket.put(this.id, bytes, meta.type);
      // The marker must still be ours: a sweeper that took this write for an orphan removed it.
      const op = this.#kv.atomic().check({ key: pendingKey(this.id), versionstamp: placed });
      await commit(commitMeta(op, this.id, meta, { pending: true }), "metadata");
    } catch (err) {
      if (await committedAnyway(this.#kv, this.id, meta)) return { id: this.id, meta };
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
  let cancelled = false;
  let fetching: Promise<unknown> | undefined;
  const fail = (err: Error) => {
    onError?.(err);
    return err;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (end <= start) return controller.close();
      if (!reader) {
        const whole = start === 0 && end === meta.size;
        const request = bucket.request(`S3 read of image ${id}`, bucket.url(bucket.objectKey(id)), {
          headers: whole ? {} : { range: `bytes=${start}-${end - 1}` },
        }, { untilHeaders: true });
        fetching = request.catch(() => {});
        const res = await request.catch((err) => {
          throw fail(err);
        });
        // The client left while S3 was answering: its body is not wanted.
        if (cancelled) {
          await res.body?.cancel();
          return;
        }
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
      cancelled = true;
      await reader?.cancel().catch(() => {});
      // A request still in flight cancels its own body when it lands (see pull).
      await fetching;
    },
  }, { highWaterMark: 0 });
}
