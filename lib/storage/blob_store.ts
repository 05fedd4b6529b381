/**
 * Where image bytes live, behind one shape: Deno KV chunks (`kv_store.ts`, the default) or an
 * S3-compatible object store (`s3_store.ts`). Each writes a new image's bytes as they arrive and
 * commits the KV metadata last, so a reader never sees a partial image.
 *
 * @module
 */
import type { BlobKind, ImageMeta, StoredImage } from "./image_meta.ts";
import { deleteChunks, type ImageFacts, KvChunkWriter, readImage } from "./kv_store.ts";

export type { ImageFacts } from "./kv_store.ts";

/** One new image being written. */
export interface BlobWriter {
  readonly id: string;
  /** Takes the next bytes; resolves once they are held or written (the caller's backpressure). */
  write(bytes: Uint8Array): Promise<void>;
  /** Writes what is left, then commits the metadata that makes the image exist. */
  close(facts: ImageFacts): Promise<StoredImage>;
  /** Gives up: removes what was written (best effort; a pending marker remains for the sweeper). */
  abort(): Promise<void>;
}

export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobStore {
  readonly kind: BlobKind;
  /** Starts a new image; `size`, when known, lets a backend send the bytes as they come. */
  create(options: { now?: number; ttlMs?: number; size?: number }): BlobWriter;
  /**
   * Streams bytes `[start, end)`, only as fast as the reader takes them. Errors (after calling
   * `onError` once) rather than ending short.
   */
  read(
    id: string,
    meta: ImageMeta,
    range: ByteRange,
    onError?: (err: Error) => void,
  ): ReadableStream<Uint8Array>;
  /** Deletes an image's bytes; `meta` is `null` for a write that never finished. */
  delete(id: string, meta: ImageMeta | null): Promise<void>;
}

/** Image bytes as KV chunks. */
export function kvBlobStore(kv: Deno.Kv): BlobStore {
  return {
    kind: "kv",
    create: (options) => new KvChunkWriter(kv, options),
    read: (id, meta, range, onError) => readImage(kv, id, meta, range, onError),
    delete: (id, meta) => deleteChunks(kv, id, meta?.chunks),
  };
}
