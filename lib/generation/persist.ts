/**
 * Persisting one generated image: SiliconFlow's link is downloaded and the bytes flow into the
 * image store as they arrive (hashed, capped and sniffed on the way), so a generation holds only
 * what its answer needs: the whole image for `b64_json` answers, or for the memory cache when its
 * fill budget allows (clients fetch a new link right away); nothing else.
 *
 * Nothing paid for is lost: when storing fails the upstream link stands in, and a `b64_json`
 * answer still gets the bytes, which keep downloading.
 *
 * @module
 */
import type { BlobWriter } from "../storage/blob_store.ts";
import {
  ByteCollector,
  DownloadError,
  downloadImage,
  type ImageDownload,
} from "../storage/download.ts";
import { CHUNK_SIZE } from "../storage/kv_store.ts";
import type { ImageAbout, StoredImage } from "../storage/image_meta.ts";
import type { ImageStore } from "../storage/image_store.ts";
import type { ImageType } from "../storage/image_type.ts";
import type { AddressGuard } from "../storage/address_guard.ts";

export interface PersistDeps {
  images: ImageStore;
  /** Used to download upstream images. */
  fetch: typeof fetch;
  downloadTimeoutMs: number;
  maxImageBytes: number;
  imageTtlMs: number;
  /** Who asked and how, stored with each image for the gallery. */
  about?: ImageAbout;
  /** Checks every host a download reaches, redirects included: public, or an allowed upstream. */
  downloadGuard?: AddressGuard;
}

/** One image of the answer, stored or not. */
export interface GeneratedImage {
  /** Set when the image is stored and reachable at `/i/:id`. */
  stored: StoredImage | undefined;
  /** The whole image, kept only when the answer asked for its bytes. */
  bytes: Uint8Array<ArrayBuffer> | undefined;
  /** What the bytes are, once downloaded. */
  type: ImageType | undefined;
  /** SiliconFlow's link, valid for about an hour: the fallback when storing failed. */
  upstreamUrl: string;
  seed: number | undefined;
  /** Why the image could not be stored, for the log and the response header. */
  storeError: string | undefined;
  /**
   * The variant the answer links to instead of the stored original (`output_format.ts`): its
   * link's extension and the compression it was made with.
   */
  served?: { ext: string; compression?: number };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Waits before the second to fifth download attempts: downloading again costs nothing, and
 * SiliconFlow's link lives an hour.
 */
const DOWNLOAD_RETRY_MS = [250, 500, 1000, 2000];

/**
 * Starts the download, trying again after a failure that may pass (a connection that failed, a
 * 5xx or 429 from the image host): the image is paid for, and only its link is at stake.
 */
async function downloadWithRetries(url: string, deps: PersistDeps): Promise<ImageDownload> {
  for (let attempt = 0;; attempt++) {
    try {
      return await downloadImage(url, {
        guard: deps.downloadGuard,
        fetch: deps.fetch,
        timeoutMs: deps.downloadTimeoutMs,
        maxBytes: deps.maxImageBytes,
      });
    } catch (err) {
      const wait = DOWNLOAD_RETRY_MS[attempt];
      if (!(err instanceof DownloadError) || !err.transient || wait === undefined) throw err;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * Downloads one upstream image into the store; never throws.
 *
 * @param keepBytes the answer needs the image's bytes (`b64_json`, streamed events)
 */
export async function persistImage(
  upstreamUrl: string,
  seed: number | undefined,
  deps: PersistDeps,
  keepBytes = false,
): Promise<GeneratedImage> {
  const image: GeneratedImage = {
    stored: undefined,
    bytes: undefined,
    type: undefined,
    upstreamUrl,
    seed,
    storeError: undefined,
  };
  let download: ImageDownload;
  try {
    download = await downloadWithRetries(upstreamUrl, deps);
  } catch (err) {
    image.storeError = message(err);
    return image;
  }
  const { cache } = deps.images;
  const declared = download.declaredLength;
  // The cache's budget is reserved up front, so concurrent generations never exceed it.
  const release = keepBytes || declared === undefined ? undefined : cache.reserveFill(declared);
  const collector = keepBytes || release ? new ByteCollector(declared) : undefined;
  let writer: BlobWriter | undefined = deps.images.create({
    ttlMs: deps.imageTtlMs,
    size: declared,
  });
  // Gathered bytes go to the writer as views of whole chunks, so an image is copied once.
  let fed = 0;
  const feed = async (bytes: Uint8Array) => {
    try {
      await writer!.write(bytes);
    } catch (err) {
      image.storeError = message(err);
      await writer!.abort();
      writer = undefined;
    }
  };
  try {
    for await (const part of download) {
      if (collector) {
        collector.push(part);
        const whole = collector.length - (collector.length % CHUNK_SIZE);
        if (writer && whole > fed) {
          const from = fed;
          fed = whole;
          await feed(collector.view(from, whole));
        }
      } else if (writer) await feed(part);
      // A url answer has SiliconFlow's link to fall back on and needs no more bytes.
      if (!writer && !keepBytes) {
        image.type = download.type;
        break;
      }
    }
    if (writer && collector && fed < collector.length) {
      await feed(collector.view(fed, collector.length));
    }
    if (writer || keepBytes) {
      const facts = download.facts();
      image.type = facts.type;
      const bytes = collector?.bytes();
      if (keepBytes) image.bytes = bytes;
      if (writer) {
        const done = writer;
        writer = undefined;
        try {
          // Cleans up after itself on failure.
          image.stored = await done.close({ ...facts, about: deps.about });
          if (bytes) cache.set(image.stored.id, { meta: image.stored.meta, bytes });
        } catch (err) {
          image.storeError = message(err);
        }
      }
    }
  } catch (err) {
    // The download failed: nothing to store and no bytes to answer with.
    image.storeError = message(err);
    image.bytes = undefined;
    await writer?.abort();
  } finally {
    release?.();
    await download.cancel();
  }
  return image;
}
