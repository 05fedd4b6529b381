/**
 * The gateway's public image links: `PUBLIC_BASE_URL/i/<id>.<ext>`, and their parsing.
 *
 * @module
 */
import type { ImageMeta } from "./image_meta.ts";
import { imageTypeOf } from "./image_type.ts";

/** Image ids are 16 base64url characters today; a wider range keeps older or newer ids readable. */
const FILE_NAME = /^([A-Za-z0-9_-]{11,43})(?:\.(png|jpe?g|webp|gif|avif))?$/i;

/**
 * The origin links are built on: `PUBLIC_BASE_URL` when set, otherwise the request URL's own (from
 * its `Host`). A reverse proxy's `X-Forwarded-Proto`/`X-Forwarded-Host` count only with
 * `trustProxyHeaders` (`TRUST_PROXY_HEADERS`): any client can send them, and links built on a
 * client's choice of host point other clients wherever it likes.
 */
export function publicOrigin(
  req: Request,
  configured: string | undefined,
  trustProxyHeaders = false,
): string {
  if (configured) return configured;
  const url = new URL(req.url);
  if (!trustProxyHeaders) return url.origin;
  // The last value is the one the nearest proxy (the trusted one) added; earlier ones may be the
  // client's own, forged.
  const proto = req.headers.get("x-forwarded-proto")?.split(",").at(-1)?.trim();
  const host = req.headers.get("x-forwarded-host")?.split(",").at(-1)?.trim();
  const scheme = proto === "http" || proto === "https" ? proto : url.protocol.slice(0, -1);
  return `${scheme}://${host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? host : url.host}`;
}

/** The extension a stored image's link carries: its real type's (`png` for a type we do not know). */
export function linkExtension(meta: ImageMeta): string {
  return imageTypeOf(meta.type)?.ext ?? "png";
}

/** The durable link of a stored image. */
export function imageLink(origin: string, id: string, ext: string): string {
  return `${origin}/i/${id}.${ext}`;
}

/** A file name under `/i/`: the image id, and the extension it was asked with (lower case, `jpeg` → `jpg`). */
export interface ImageFileName {
  id: string;
  ext: string | undefined;
}

/**
 * The id and extension in `/i/<id>` or `/i/<id>.<ext>`, or `undefined` when the name cannot be
 * one. Extensions are read without regard to case (`.PNG`); ids are case-sensitive.
 */
export function parseImageFileName(name: string): ImageFileName | undefined {
  const match = FILE_NAME.exec(name);
  if (!match) return undefined;
  const ext = match[2]?.toLowerCase();
  return { id: match[1], ext: ext === "jpeg" ? "jpg" : ext };
}
