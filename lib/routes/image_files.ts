/**
 * `GET|HEAD /i/:id`: serves stored images to anyone holding the link (chat apps fetch them without
 * credentials). Implements the HTTP caching and range semantics browsers and proxies rely on:
 * strong ETag from the content hash, `If-None-Match` → 304 before any chunk is read, single
 * `Range` → 206 or 416, `HEAD` without a body.
 *
 * The extension is read without regard to case and names the format served: the image's own
 * serves the stored original byte for byte; `.png`, `.jpg`/`.jpeg`, `.webp` and `.avif` serve a
 * variant converted from it, and `?w=` a narrower one (`storage/image_variants.ts`), each answered
 * exactly as an original, under its image's CDN tag. Any other extension (`.exe`, or `.gif` for
 * an image that is no GIF) is a 404, as is an unknown id. CORS preflights (a `Range` request from
 * a page) are answered.
 *
 * @module
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { InvalidRequestError, NotFoundError } from "../errors.ts";
import { bindRequest } from "../observability/request_context.ts";
import type { GatewayServices } from "../services.ts";
import type { ImageMeta } from "../storage/image_meta.ts";
import { cacheTag, type ImageStore } from "../storage/image_store.ts";
import { imageTypeOf } from "../storage/image_type.ts";
import { formatOf, formatOfExt, variantKey, type VariantWant } from "../storage/image_variants.ts";
import { parseImageFileName } from "../storage/links.ts";
import { snapWidth } from "../variant_kinds.ts";
import { requestedRange } from "./range_header.ts";

const YEAR_SECONDS = 31_536_000;
/**
 * Bodies from memory are handed to `Deno.serve` in slices of this size: on Deno 2.9.6 a stream of
 * 128–256 KiB slices serves a 1 MB image about 1.4× faster than one 1 MB buffer (wrk, 32
 * connections, loopback; see docs/performance.md).
 */
const SLICE_BYTES = 256 * 1024;

export function imageFileRoutes({ images, log, config, metrics }: GatewayServices) {
  const app = new Hono();

  // Only preflights: the images' own answers already carry their CORS headers.
  app.on(
    "OPTIONS",
    "/i/:file",
    cors({
      origin: "*",
      allowMethods: ["GET", "HEAD", "OPTIONS"],
      allowHeaders: ["range", "if-none-match", "if-range"],
      maxAge: 86400,
    }),
  );

  app.get("/i/:file", async (c) => {
    const name = parseImageFileName(c.req.param("file"));
    if (name === undefined) throw new NotFoundError("Image not found");
    const { id } = name;
    const now = Date.now();
    const width = requestedWidth(c.req.query("w"));
    const compression = requestedCompression(c.req.query("q"));
    const original = await images.cached(id, now);
    (original ? metrics.cacheHits : metrics.cacheMisses).inc();
    const imageMeta = original?.meta ?? await images.getMeta(id, now);
    // A variant's own record is reached only through its image's link.
    if (imageMeta === null || imageMeta.variantOf) throw new NotFoundError("Image not found");
    // The original, or a variant: found, or made now (nothing is decoded for an original).
    const want = await wantedVariant(images, id, imageMeta, name.ext, width, compression);
    const served = want ? await images.variant(id, imageMeta, want, now) : { id, meta: imageMeta };
    const cached = want ? await images.cached(served.id, now) : original;
    const meta = cached?.meta ?? served.meta;

    const headers = imageHeaders(meta, now);
    if (config.denoDeploy) {
      // Deploy's CDN keeps responses with a cache id across deploys; the tag lets a deletion purge.
      // A variant is a response of its own; the tag is the image's, so one purge clears the
      // image and every variant of it.
      headers["deno-cache-id"] = want ? `sf-image-${id}-${variantKey(want)}` : `sf-image-${id}`;
      headers["deno-cache-tag"] = cacheTag(id);
    }
    if (matchesEtag(c.req.header("if-none-match"), headers.etag)) {
      return new Response(null, { status: 304, headers: cacheHeaders(headers) });
    }
    const range = requestedRange(
      c.req.header("range"),
      c.req.header("if-range"),
      headers.etag,
      meta.size,
    );
    if (range === "unsatisfiable") {
      // Not the image's headers: a cache must not keep this answer for the whole URL.
      return new Response(null, {
        status: 416,
        headers: {
          "content-range": `bytes */${meta.size}`,
          "accept-ranges": "bytes",
          "cache-control": "no-store",
          "access-control-allow-origin": "*",
          "x-content-type-options": "nosniff",
        },
      });
    }
    const { start, end } = range ?? { start: 0, end: meta.size };
    const length = end - start;
    const responseHeaders: Record<string, string> = {
      ...headers,
      "content-length": String(length),
    };
    if (range) responseHeaders["content-range"] = `bytes ${start}-${end - 1}/${meta.size}`;
    const status = range ? 206 : 200;
    // Hono answers HEAD through the GET handler; skip reading any bytes for it.
    if (c.req.method === "HEAD") return new Response(null, { status, headers: responseHeaders });

    // From memory when cached (or loaded now for every reader at once), else streamed.
    const body = cached ? cached.bytes.subarray(start, end) : await images.body(
      served.id,
      meta,
      { start, end },
      bindRequest((err) => log.error(err.message)),
    );
    return new Response(body instanceof Uint8Array ? sliced(body) : body, {
      status,
      headers: responseHeaders,
    });
  });

  return app;
}

/** `?w=`: a width in pixels, snapped to the set of `VARIANT_WIDTHS`; absent when not asked. */
function requestedWidth(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  // Bounded before it is read as a number: five digits are more than any width of the set.
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) === 0) {
    throw new InvalidRequestError(
      `w "${value.slice(0, 16)}" is not a width; use a whole number of pixels, e.g. 256`,
      { param: "w" },
    );
  }
  return snapWidth(Number(value));
}

/**
 * `?q=`: the `output_compression` (0–100) an answer's variant was made with. Such variants are
 * only found, never made, by a link (`image_variants.ts`).
 */
function requestedCompression(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,3}$/.test(value) || Number(value) > 100) {
    throw new InvalidRequestError(
      `q "${value.slice(0, 16)}" is not a compression; use a whole number from 0 to 100`,
      { param: "q" },
    );
  }
  return Number(value);
}

/**
 * The variant a link asks for, or `undefined` for the stored original: the format of its
 * extension (the original's own when it has none) at the snapped width, never wider than the
 * original (whose width is read from its header only when a width is asked), at the compression
 * asked (none for lossless PNG).
 */
async function wantedVariant(
  images: ImageStore,
  id: string,
  meta: ImageMeta,
  ext: string | undefined,
  width: number | undefined,
  compression: number | undefined,
): Promise<VariantWant | undefined> {
  const own = imageTypeOf(meta.type);
  const plain = width === undefined && compression === undefined;
  if (plain && (ext === undefined || ext === own?.ext)) return undefined;
  const format = ext === undefined ? formatOf(own) ?? "png" : formatOfExt(ext);
  // A GIF original is served under its own extension, but no variant is made as a GIF.
  if (format === undefined) throw new NotFoundError("Image not found");
  const originalWidth = width === undefined ? undefined : (await images.dims(id, meta))?.width;
  const narrower = width !== undefined && (originalWidth === undefined || width < originalWidth);
  const want: VariantWant = { format, width: narrower ? width : undefined };
  if (compression !== undefined && format !== "png") want.compression = compression;
  const same = want.width === undefined && want.compression === undefined;
  return same && format === formatOf(own) ? undefined : want;
}

/** The bytes as they are when small, otherwise as a stream of {@link SLICE_BYTES} slices. */
function sliced(
  bytes: Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array<ArrayBuffer>> {
  if (bytes.length <= SLICE_BYTES) return bytes;
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      controller.enqueue(bytes.subarray(offset, offset + SLICE_BYTES));
      offset += SLICE_BYTES;
      if (offset >= bytes.length) controller.close();
    },
  });
}

function imageHeaders(meta: ImageMeta, now: number): Record<string, string> {
  // Expiring images must not outlive their expiry in caches; permanent ones are immutable.
  const maxAge = meta.expiresAt === null
    ? YEAR_SECONDS
    : Math.max(0, Math.min(YEAR_SECONDS, Math.floor((meta.expiresAt - now) / 1000)));
  return {
    "content-type": meta.type,
    etag: `"${meta.sha256}"`,
    "cache-control": `public, max-age=${maxAge}, immutable`,
    "last-modified": new Date(meta.createdAt).toUTCString(),
    "accept-ranges": "bytes",
    "access-control-allow-origin": "*",
    "cross-origin-resource-policy": "cross-origin",
    "x-content-type-options": "nosniff",
  };
}

/** The headers a 304 repeats (RFC 9110 §15.4.5). */
function cacheHeaders(headers: Record<string, string>): Record<string, string> {
  const { "content-type": _type, "accept-ranges": _ranges, ...rest } = headers;
  return rest;
}

/** `If-None-Match` uses weak comparison (RFC 9110 §13.1.2): `W/"x"` matches `"x"`; `*` matches. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}
