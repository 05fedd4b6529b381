/**
 * The gateway's public image links: `PUBLIC_BASE_URL/i/<id>.<ext>`, and their parsing.
 *
 * @module
 */

/** Image ids are 16 base64url characters today; a wider range keeps older or newer ids readable. */
const FILE_NAME = /^([A-Za-z0-9_-]{11,43})(?:\.(png|jpe?g|webp|gif))?$/;

/**
 * The origin links are built on: `PUBLIC_BASE_URL` when set, otherwise the request's own origin as
 * a reverse proxy reports it (`X-Forwarded-Proto`/`X-Forwarded-Host`), otherwise the request URL's.
 */
export function publicOrigin(req: Request, configured: string | undefined): string {
  if (configured) return configured;
  const url = new URL(req.url);
  const proto = req.headers.get("x-forwarded-proto")?.split(",")[0].trim();
  const host = req.headers.get("x-forwarded-host")?.split(",")[0].trim();
  const scheme = proto === "http" || proto === "https" ? proto : url.protocol.slice(0, -1);
  return `${scheme}://${host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? host : url.host}`;
}

/** The durable link of a stored image. */
export function imageLink(origin: string, id: string, ext: string): string {
  return `${origin}/i/${id}.${ext}`;
}

/** The id in `/i/<id>` or `/i/<id>.<ext>`, or `undefined` when the name cannot be one. */
export function parseImageFileName(name: string): string | undefined {
  return FILE_NAME.exec(name)?.[1];
}
