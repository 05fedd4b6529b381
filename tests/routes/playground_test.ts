/**
 * `GET /` and `GET /web/{file}`: the web playground is served by the gateway itself from the real
 * files of `lib/web/`, without a key, with a strict Content-Security-Policy, a strong ETag that a
 * revalidation answers 304, and no resource from anywhere else (it works offline on a LAN). The
 * browser tests (`tests/browser/`) drive it for real.
 *
 * @module
 */
import assert from "node:assert/strict";
import { headersOf, startGateway } from "../_support/gateway.ts";

const SECURITY = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data: blob: http: https:; connect-src 'self'; form-action 'none'; " +
    "frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};
const ETAG = /^"[A-Za-z0-9_-]{27}"$/;
const MODULES = [
  "app.js",
  "api.js",
  "controls.js",
  "gallery.js",
  "generate.js",
  "i18n.js",
  "strings.js",
  "viewer.js",
];

Deno.test("GET / serves the playground page from lib/web/index.html, without a key, with its CSP and a strong ETag", async () => {
  await using gw = await startGateway();
  const page = await gw.get("/", { key: null });
  assert.equal(page.status, 200);
  const { etag, ...headers } = headersOf(page);
  assert.match(etag, ETAG);
  assert.deepEqual(headers, { ...SECURITY, "content-type": "text/html; charset=utf-8" });
  const html = await page.text();
  assert.equal(html, await Deno.readTextFile(new URL("../../lib/web/index.html", import.meta.url)));
  // Every control has its own label.
  for (const id of ["key", "lang", "prompt", "model", "size", "n", "seed", "negative", "steps"]) {
    assert.match(html, new RegExp(`<label for="${id}"`), id);
    assert.match(html, new RegExp(`id="${id}"`), id);
  }
  assert.ok(html.includes('name="viewport" content="width=device-width, initial-scale=1"'));
  assert.ok(html.includes('<dialog id="viewer"'));
  // Nothing is loaded from anywhere else, and no inline script or style runs.
  const links = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(links, ["data:,", "/web/app.css", "/web/app.js", "#prompt"]);
  assert.doesNotMatch(html, /<script>|<style|style="|\bon[a-z]+="/);
});

Deno.test("GET /web/{file} serves each script and the stylesheet with its type, and 304 for its ETag", async () => {
  await using gw = await startGateway();
  const css = await gw.get("/web/app.css", { key: null });
  assert.equal(css.status, 200);
  assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
  await css.body?.cancel();
  const etags = new Set<string>();
  for (const name of MODULES) {
    const res = await gw.get(`/web/${name}`, { key: null });
    assert.equal(res.status, 200, name);
    const { etag, ...headers } = headersOf(res);
    assert.deepEqual(headers, { ...SECURITY, "content-type": "text/javascript; charset=utf-8" });
    etags.add(etag);
    const js = await res.text();
    // Modules import only each other, by relative path.
    for (const m of js.matchAll(/\bfrom "([^"]+)"/g)) assert.match(m[1], /^\.\/[a-z0-9]+\.js$/);
    // Text from people and the server is never parsed as HTML.
    assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, name);
    // Only the public API, the gallery API and /health.
    for (const path of js.matchAll(/"(\/(?:v1|health)[^"]*)"/g)) {
      assert.match(
        path[1],
        /^\/(health|v1\/(models\?include=capabilities|images(\/generations|\/)?))$/,
      );
    }
  }
  assert.equal(etags.size, MODULES.length);
  // A revalidation with the ETag (alone or in a list) answers 304 without a body.
  const first = await gw.get("/web/app.js", { key: null });
  const etag = first.headers.get("etag")!;
  await first.body?.cancel();
  for (const header of [etag, `"other", ${etag}`, `W/${etag}`]) {
    const again = await gw.get("/web/app.js", { key: null, headers: { "if-none-match": header } });
    assert.equal(again.status, 304, header);
    assert.deepEqual(headersOf(again), { ...SECURITY, etag });
    assert.equal(await again.text(), "");
  }
  const stale = await gw.get("/web/app.js", { key: null, headers: { "if-none-match": '"x"' } });
  assert.equal(stale.status, 200);
  await stale.body?.cancel();
  const missing = await gw.get("/web/nothing.js", { key: null });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("the page's files weigh under 60 KB together", async () => {
  await using gw = await startGateway();
  let total = 0;
  for (const path of ["/", "/web/app.css", ...MODULES.map((m) => `/web/${m}`)]) {
    total += (await (await gw.get(path, { key: null })).arrayBuffer()).byteLength;
  }
  assert.ok(total < 60 * 1024, `${total} bytes`);
});
