/**
 * `GET /` and `GET /playground.js`: the web playground is served by the gateway itself, without a
 * key, with a strict Content-Security-Policy and no resource from anywhere else (it works offline
 * on a LAN). The browser test (`tests/browser/`) drives it for real.
 *
 * @module
 */
import assert from "node:assert/strict";
import { headersOf, startGateway } from "../_support/gateway.ts";

const SECURITY = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; " +
    "img-src 'self' data: blob: http: https:; connect-src 'self'; form-action 'none'; " +
    "frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

Deno.test("GET / serves the playground page and GET /playground.js its script, without a key", async () => {
  await using gw = await startGateway();
  const page = await gw.get("/", { key: null });
  assert.equal(page.status, 200);
  assert.deepEqual(headersOf(page), { ...SECURITY, "content-type": "text/html; charset=UTF-8" });
  const html = await page.text();
  // Every control the issue names, each with its own label.
  for (
    const [id, label] of Object.entries({
      key: "API key",
      model: "Model",
      prompt: "Prompt",
      size: "Size",
      n: "Number of images",
      seed: "Seed",
      negative: "Negative prompt",
      image1: "Input image 1",
      image2: "Input image 2",
      image3: "Input image 3",
    })
  ) {
    assert.ok(html.includes(`<label for="${id}">${label}</label>`), label);
    assert.ok(html.includes(`id="${id}"`), id);
  }
  assert.ok(html.includes('name="viewport" content="width=device-width, initial-scale=1"'));
  // Nothing is loaded from anywhere else: every src and href is this gateway's own, or data:.
  const links = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual(links, ["data:,", "/playground.js"]);

  const script = await gw.get("/playground.js", { key: null });
  assert.equal(script.status, 200);
  assert.deepEqual(headersOf(script), {
    ...SECURITY,
    "content-type": "text/javascript; charset=utf-8",
  });
  const js = await script.text();
  // Only the public API and the gallery API.
  const paths = [...js.matchAll(/"(\/v1\/[^"]*)"/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(paths)].sort(), [
    "/v1/images",
    "/v1/images/",
    "/v1/images/edits",
    "/v1/images/generations",
    "/v1/models",
  ]);
  for (const path of js.matchAll(/"(\/v1\/[^"]*)"/g)) {
    assert.match(path[1], /^\/v1\/(models|images(\/generations|\/edits|\/)?)$/, path[1]);
  }
  // Text from users and the server is never parsed as HTML.
  assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
});
