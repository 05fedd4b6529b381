/**
 * A byte-bounded, least-recently-used memory cache of stored images. Stored images never change,
 * so a cached copy is always right; KV stays the source of truth and the cache only saves reads
 * (reading 1 MB back from KV costs milliseconds, serving it from memory does not).
 *
 * @module
 */
import type { ImageMeta } from "./kv_store.ts";

export interface CachedImage {
  meta: ImageMeta;
  bytes: Uint8Array<ArrayBuffer>;
}

export class ImageCache {
  readonly maxBytes: number;
  #bytes = 0;
  // A Map iterates in insertion order; re-inserting on use makes the first key the least recent.
  #entries = new Map<string, CachedImage>();

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Images larger than an eighth of the cache are streamed from KV instead of evicting others. */
  accepts(size: number): boolean {
    return size <= this.maxBytes / 8;
  }

  get(id: string): CachedImage | undefined {
    const entry = this.#entries.get(id);
    if (entry) {
      this.#entries.delete(id);
      this.#entries.set(id, entry);
    }
    return entry;
  }

  set(id: string, entry: CachedImage): void {
    if (!this.accepts(entry.bytes.length) || this.#entries.has(id)) return;
    this.#entries.set(id, entry);
    this.#bytes += entry.bytes.length;
    for (const [oldId, old] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldId);
      this.#bytes -= old.bytes.length;
    }
  }

  delete(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    this.#bytes -= entry.bytes.length;
  }

  get size(): number {
    return this.#bytes;
  }
}
