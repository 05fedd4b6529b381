/**
 * Image variants made for real: the conversion pool's workers (the @jsquash codecs) behind
 * `/i/{id}.webp?w=…`, through the whole gateway, with a photograph-like image the test draws.
 *
 * @module
 */
import assert from "node:assert/strict";
import { imageHeader } from "../../lib/image_header.ts";
import { generateImage, openaiClient, startGateway } from "../_support/gateway.ts";
import { gradientPng } from "../_support/gradient.ts";

Deno.test("a stored PNG is served as a narrower WebP, AVIF and JPEG by the real conversion pool", async () => {
  const png = await gradientPng(640, 480);
  await using gw = await startGateway({ fake: { image: () => png } });
  const { id } = await generateImage(gw);
  for (
    const [ext, type, magic] of [
      ["webp", "image/webp", "RIFF"],
      ["avif", "image/avif", "ftyp"],
      ["jpg", "image/jpeg", "\u00ff\u00d8"],
    ] as const
  ) {
    const res = await gw.get(`/i/${id}.${ext}?w=256`, { key: null });
    assert.equal(res.status, 200, ext);
    assert.equal(res.headers.get("content-type"), type);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const head = String.fromCharCode(...bytes.subarray(0, 12));
    assert.ok(head.includes(magic), `${ext} starts ${JSON.stringify(head)}`);
    assert.ok(bytes.length < png.length / 4, `${ext}: ${bytes.length} bytes of ${png.length}`);
    if (ext !== "avif") assert.deepEqual(imageHeader(bytes)?.width, 256);
  }
  // The original, byte for byte, under its own extension.
  const original = await gw.get(`/i/${id}.png`, { key: null });
  assert.deepEqual(new Uint8Array(await original.arrayBuffer()), png);
});

Deno.test("the openai SDK's output_format webp gets a real WebP in b64_json and a .webp link, the PNG kept", async () => {
  const png = await gradientPng(640, 480);
  await using gw = await startGateway({ fake: { image: () => png } });
  const client = openaiClient(gw);
  const b64 = await client.images.generate({
    model: "Kwai-Kolors/Kolors",
    prompt: "a gradient",
    response_format: "b64_json",
    output_format: "webp",
    output_compression: 60,
  });
  assert.equal(b64.output_format, "webp");
  const webp = Uint8Array.from(atob(b64.data![0].b64_json!), (c) => c.charCodeAt(0));
  assert.equal(String.fromCharCode(...webp.subarray(8, 12)), "WEBP");
  assert.deepEqual(imageHeader(webp)?.width, 640);
  assert.ok(webp.length < png.length / 4, `${webp.length} bytes of ${png.length}`);

  const linked = await client.images.generate({ prompt: "a gradient", output_format: "jpeg" });
  const url = new URL(linked.data![0].url!);
  assert.match(url.pathname, /^\/i\/[A-Za-z0-9_-]{16}\.jpg$/);
  const res = await gw.get(url.pathname, { key: null });
  assert.equal(res.headers.get("content-type"), "image/jpeg");
  assert.equal((await res.arrayBuffer()).byteLength < png.length / 4, true);
  const original = await gw.get(url.pathname.replace(/\.jpg$/, ".png"), { key: null });
  assert.deepEqual(new Uint8Array(await original.arrayBuffer()), png);
});
