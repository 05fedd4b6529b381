/**
 * A byte-bounded, least-recently-used memory cache of stored images. Stored images never change,
 * so a cached copy is always right; KV stays the source of truth and the cache only saves reads
 * (reading 1 MB back from KV costs milliseconds, serving it from memory does not).
 *
 * It is the only place whole images are held. Images being gathered for it (a download, a read
 * on a cache miss) count against a fill budget of a quarter of its size, so that many readers or
 * generations at once never hold more than that besides the cache itself.
 *
 * @module
 */
import type { ImageMeta } from "./image_meta.ts";

export interface CachedImage {
  meta: ImageMeta;
  bytes: Uint8Array<ArrayBuffer>;
  /** When the metadata was last read from KV (epoch ms), for revalidation. */
  checkedAt: number;
}

export class ImageCache {
  readonly maxBytes: number;
  #bytes = 0;
  #filling = 0;
  // A Map iterates in insertion order; re-inserting on use makes the first key the least recent.
  #entries = new Map<string, CachedImage>();

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Images larger than an eighth of the cache are streamed from KV instead of evicting others. */
  accepts(size: number): boolean {
    return size <= this.maxBytes / 8;
  }

  /**
   * Reserves room to gather an image of `size` bytes for the cache; returns the function that
   * gives it back, or `undefined` when the cache would not take it or the fill budget is spent.
   */
  reserveFill(size: number): (() => void) | undefined {
    if (!this.accepts(size) || this.#filling + size > this.maxBytes / 4) return undefined;
    this.#filling += size;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#filling -= size;
    };
  }

  get(id: string): CachedImage | undefined {
    const entry = this.#entries.get(id);
    if (entry) {
      this.#entries.delete(id);
      this.#entries.set(id, entry);
    }
    return entry;
  }

  /** Caches an image whose metadata was just read (or written). */
  set(id: string, image: Omit<CachedImage, "checkedAt">, now = Date.now()): void {
    if (!this.accepts(image.bytes.length) || this.#entries.has(id)) return;
    const entry = { ...image, checkedAt: now };
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
