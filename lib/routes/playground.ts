/**
 * `GET /` and `GET /web/{file}`: the web playground, whose HTML, CSS and JavaScript live as real
 * files in `lib/web/`, read into the program by raw imports (`with { type: "text" }`): no build
 * step, no file read at run time (so it works under `deno task start`'s permissions, in Docker
 * and on Deno Deploy), and no external CDN. Each file is served with a strong ETag (a hash of its
 * content), answered 304 when the browser has it, and `no-cache`, so a new release reaches every
 * browser at once for the cost of a revalidation. A strict Content-Security-Policy lets the page
 * run only its own scripts and styles and talk only to this gateway; images may come from
 * anywhere, as `PUBLIC_BASE_URL` may name another host.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Hono } from "hono";
import html from "../web/index.html" with { type: "text" };
import css from "../web/app.css" with { type: "text" };
import app from "../web/app.js" with { type: "text" };
import api from "../web/api.js" with { type: "text" };
import controls from "../web/controls.js" with { type: "text" };
import gallery from "../web/gallery.js" with { type: "text" };
import generate from "../web/generate.js" with { type: "text" };
import i18n from "../web/i18n.js" with { type: "text" };
import strings from "../web/strings.js" with { type: "text" };
import viewer from "../web/viewer.js" with { type: "text" };

export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data: blob: http: https:; connect-src 'self'; form-action 'none'; " +
  "frame-ancestors 'none'; base-uri 'none'";

const JS = "text/javascript; charset=utf-8";
/** Every file of the page, by the path it is served at. */
export const PAGE_FILES: Readonly<Record<string, { body: string; type: string }>> = {
  "/": { body: html, type: "text/html; charset=utf-8" },
  "/web/app.css": { body: css, type: "text/css; charset=utf-8" },
  "/web/app.js": { body: app, type: JS },
  "/web/api.js": { body: api, type: JS },
  "/web/controls.js": { body: controls, type: JS },
  "/web/gallery.js": { body: gallery, type: JS },
  "/web/generate.js": { body: generate, type: JS },
  "/web/i18n.js": { body: i18n, type: JS },
  "/web/strings.js": { body: strings, type: JS },
  "/web/viewer.js": { body: viewer, type: JS },
};

/** Whether an `If-None-Match` list names `etag` (weak or strong, or `*`), read in one pass. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  // Bounded: a header longer than any real list of a few tags is not worth reading.
  return header.slice(0, 2048).split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}

export function playgroundRoutes() {
  const router = new Hono();
  for (const [path, { body, type }] of Object.entries(PAGE_FILES)) {
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    const headers = {
      "content-security-policy": CSP,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      // Always revalidated (a 304 costs a few bytes): a new release reaches browsers at once.
      "cache-control": "no-cache",
      etag,
    };
    router.get(path, (c) => {
      if (matches(c.req.header("if-none-match"), etag)) return c.body(null, 304, headers);
      return c.body(body, 200, { ...headers, "content-type": type });
    });
  }
  return router;
}
