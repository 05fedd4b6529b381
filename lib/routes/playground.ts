/**
 * `GET /` and `GET /playground.js`: the web playground, served by the gateway itself from strings
 * in the program (no build step, no file read at run time, no external CDN). A strict
 * Content-Security-Policy lets the page run only its own script and talk only to this gateway;
 * images may come from anywhere, as `PUBLIC_BASE_URL` may name another host.
 *
 * @module
 */
import { Hono } from "hono";
import { PLAYGROUND_HTML } from "./playground_page.ts";
import { PLAYGROUND_JS } from "./playground_script.ts";

const CSP = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; " +
  "img-src 'self' data: blob: http: https:; connect-src 'self'; form-action 'none'; " +
  "frame-ancestors 'none'; base-uri 'none'";

const PAGE_HEADERS = {
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // New releases must reach browsers at once; the page is small.
  "cache-control": "no-cache",
};

export function playgroundRoutes() {
  const app = new Hono();
  app.get("/", (c) => c.html(PLAYGROUND_HTML, 200, PAGE_HEADERS));
  app.get("/playground.js", (c) =>
    c.body(PLAYGROUND_JS, 200, {
      ...PAGE_HEADERS,
      "content-type": "text/javascript; charset=utf-8",
    }));
  return app;
}
