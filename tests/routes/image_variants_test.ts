/**
 * `GET|HEAD /i/:id.<ext>?w=` for variants, through the app with a fake converter on KV storage:
 * formats by extension, widths snapped and never enlarged, the HTTP semantics of originals, one
 * conversion per variant, refusals and failures.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  assertBytes,
  assertOpenAIError,
  bytesOf,
  generateImage,
  headersOf,
  sha256,
  startGateway,
  type TestGateway,
} from "../_support/gateway.ts";
import { randomPng, tinyJpeg, tinyWebp } from "../_support/images.ts";
import { fakeConverter, tinyAvif } from "../_support/variants.ts";
import { getImageMeta, type ImageMeta } from "../../lib/storage/image_meta.ts";
import { refuseVariants } from "../../lib/storage/image_variants.ts";

/** The original every test serves: 300 × 200 pixels, so `?w=256` narrows it and 384 would not. */
const original = randomPng(300, 200);

async function gateway(fake = fakeConverter()) {
  const gw = await startGateway({ fake: { image: () => original }, convert: fake.convert });
  const { id } = await generateImage(gw);
  return { gw, fake, id };
}

/** The headers of a 200 answer for `bytes` of `type`, less `last-modified` (that of the image). */
async function variantHeaders(bytes: Uint8Array<ArrayBuffer>, type: string) {
  return {
    "accept-ranges": "bytes",
    "access-control-allow-origin": "*",
    "cache-control": "public, max-age=31536000, immutable",
    "content-length": String(bytes.length),
    "content-type": type,
    "cross-origin-resource-policy": "cross-origin",
    etag: `"${await sha256(bytes)}"`,
    "x-content-type-options": "nosniff",
  };
}

async function fetchOk(gw: TestGateway, path: string, init?: RequestInit) {
  const res = await gw.app.request(path, init);
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  const { "last-modified": _at, ...headers } = headersOf(res);
  return { res, headers, bytes: await bytesOf(res) as Uint8Array<ArrayBuffer> };
}

Deno.test("GET /i/:id serves every format by extension, the original byte for byte without converting", async () => {
  const { gw, fake, id } = await gateway();
  await using _gw = gw;
  for (const path of [`/i/${id}.png`, `/i/${id}.PNG`, `/i/${id}`]) {
    const { headers, bytes } = await fetchOk(gw, path);
    assert.deepEqual(headers, await variantHeaders(original, "image/png"));
    assertBytes(bytes, original);
  }
  assert.deepEqual(fake.calls, []);

  for (
    const [ext, type, expected] of [
      ["jpg", "image/jpeg", tinyJpeg],
      ["jpeg", "image/jpeg", tinyJpeg],
      ["webp", "image/webp", tinyWebp],
      ["avif", "image/avif", tinyAvif],
    ] as const
  ) {
    const { headers, bytes } = await fetchOk(gw, `/i/${id}.${ext}`);
    assert.deepEqual(headers, await variantHeaders(expected, type), ext);
    assertBytes(bytes, expected, ext);
  }
  // `.jpg` and `.jpeg` are one variant.
  assert.deepEqual(fake.calls, [
    { format: "jpeg", width: undefined },
    { format: "webp", width: undefined },
    { format: "avif", width: undefined },
  ]);
  const meta = await getImageMeta(gw.kv, id);
  assert.deepEqual(Object.keys(meta!.variants!).sort(), ["avif-full", "jpeg-full", "webp-full"]);
  // Not a format variants are made in, nor an image type at all.
  for (const ext of ["gif", "exe"]) {
    await assertOpenAIError(await gw.app.request(`/i/${id}.${ext}`), 404, { code: "not_found" });
  }
});

Deno.test("GET /i/:id?w= snaps to the set of widths and never enlarges", async () => {
  const { gw, fake, id } = await gateway();
  await using _gw = gw;
  const narrow = await fetchOk(gw, `/i/${id}.png?w=200`);
  assert.equal(narrow.headers["content-type"], "image/png");
  // Snapped up to 256, the fake's PNG of that width.
  assert.equal(new DataView(narrow.bytes.buffer).getUint32(16), 256);
  for (const w of ["129", "256"]) {
    assertBytes((await fetchOk(gw, `/i/${id}?w=${w}`)).bytes, narrow.bytes);
  }
  assert.deepEqual(fake.calls, [{ format: "png", width: 256 }]);

  // 384 and above are wider than the 300-pixel original: its own format is the original itself.
  for (const w of ["301", "384", "99999"]) {
    assertBytes((await fetchOk(gw, `/i/${id}.png?w=${w}`)).bytes, original, w);
  }
  assert.equal(fake.calls.length, 1);
  await fetchOk(gw, `/i/${id}.webp?w=2048`);
  assert.deepEqual(fake.calls.at(-1), { format: "webp", width: undefined });

  for (const w of ["0", "-1", "1.5", "abc", "123456", ""]) {
    await assertOpenAIError(await gw.app.request(`/i/${id}.png?w=${w}`), 400, {
      param: "w",
      type: "invalid_request_error",
    });
  }
  assert.equal(fake.calls.length, 2);
});

Deno.test("GET /i/:id answers 304, 206 and HEAD on a variant with its own ETag", async () => {
  const { gw, id } = await gateway();
  await using _gw = gw;
  const path = `/i/${id}.webp`;
  const etag = `"${await sha256(tinyWebp)}"`;
  const notModified = await gw.app.request(path, { headers: { "if-none-match": etag } });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.headers.get("etag"), etag);
  assert.equal(await notModified.text(), "");

  const part = await gw.app.request(path, { headers: { range: "bytes=2-9" } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get("content-range"), `bytes 2-9/${tinyWebp.length}`);
  assert.equal(part.headers.get("content-type"), "image/webp");
  assertBytes(await bytesOf(part), tinyWebp.subarray(2, 10));

  const head = await gw.app.request(`/i/${id}.jpg`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(tinyJpeg.length));
  assert.equal(head.headers.get("content-type"), "image/jpeg");
  assert.equal(await head.text(), "");
});

Deno.test("GET /i/:id converts once for five concurrent first requests and never again", async () => {
  const fake = fakeConverter();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  fake.before = () => gate;
  const { gw, id } = await gateway(fake);
  await using _gw = gw;
  const answers = Array.from({ length: 5 }, () => gw.app.request(`/i/${id}.webp?w=64`));
  // Every request is waiting on the one conversion before it is let go.
  for (let i = 0; i < 50 && fake.calls.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  release();
  for (const res of await Promise.all(answers)) {
    assert.equal(res.status, 200);
    assertBytes(await bytesOf(res), tinyWebp);
  }
  assert.equal(fake.calls.length, 1);
  // Later requests find it stored, on this gateway and on another over the same KV.
  await fetchOk(gw, `/i/${id}.webp?w=64`);
  assert.equal(fake.calls.length, 1);
  gw.services.cache.delete(id);
  await fetchOk(gw, `/i/${id}.webp?w=50`);
  assert.equal(fake.calls.length, 1);
});

Deno.test("GET /i/:id answers 501 for a variant when no converter is set up, and serves originals", async () => {
  await using gw = await startGateway({ fake: { image: () => original }, convert: refuseVariants });
  const { id } = await generateImage(gw);
  for (const path of [`/i/${id}.webp`, `/i/${id}.png?w=64`]) {
    await assertOpenAIError(await gw.app.request(path), 501, {
      type: "server_error",
      code: "variants_unavailable",
      param: null,
      message: "Image conversion is not available on this gateway",
    });
  }
  assertBytes((await fetchOk(gw, `/i/${id}.png`)).bytes, original);
  assert.equal((await getImageMeta(gw.kv, id))!.variants, undefined);
});

Deno.test("GET /i/:id never serves or lists a variant whose conversion failed, and makes it again", async () => {
  const fake = fakeConverter();
  fake.before = () => {
    throw new Error("codec crashed");
  };
  const { gw, id } = await gateway(fake);
  await using _gw = gw;
  const failed = await gw.app.request(`/i/${id}.avif`);
  assert.equal(failed.status, 500);
  assert.equal((await failed.json()).error.type, "server_error");
  assert.equal((await getImageMeta(gw.kv, id))!.variants, undefined);
  // Nothing but the image's own records.
  const keys = [];
  for await (const entry of gw.kv.list({ prefix: ["img"] })) keys.push(entry.key);
  assert.deepEqual(keys, [["img", id]]);

  fake.before = undefined;
  assertBytes((await fetchOk(gw, `/i/${id}.avif`)).bytes, tinyAvif);
  assert.equal(fake.calls.length, 2);
});

Deno.test("a variant carries its image's Deploy cache tag, and its own record is never served by its id", async () => {
  const fake = fakeConverter();
  await using gw = await startGateway({
    env: { DENO_DEPLOY: "true" },
    fake: { image: () => original },
    convert: fake.convert,
  });
  const { id } = await generateImage(gw);
  const { res } = await fetchOk(gw, `/i/${id}.webp?w=64`);
  const variant = (await getImageMeta(gw.kv, id))!.variants!["webp-64"];
  assert.notEqual(variant, id);
  assert.equal(res.headers.get("deno-cache-tag"), `img-${id}`);
  assert.equal(res.headers.get("deno-cache-id"), `sf-image-${id}-webp-64`);
  // The variant's own record is never served by its id, nor made into variants of its own.
  for (const path of [`/i/${variant}.webp`, `/i/${variant}`, `/i/${variant}.png?w=64`]) {
    await assertOpenAIError(await gw.app.request(path), 404, { code: "not_found" });
  }
  assert.equal((await getImageMeta(gw.kv, variant))!.variantOf, id);
  assert.equal(fake.calls.length, 1);
});

Deno.test("GET /i/:id?w= reads the width of an image stored without one from its header", async () => {
  const { gw, fake, id } = await gateway();
  await using _gw = gw;
  // New images keep their size; older ones have none.
  const stored = await gw.kv.get<ImageMeta>(["img", id]);
  assert.equal(stored.value!.width, 300);
  assert.equal(stored.value!.height, 200);
  const { width: _w, height: _h, ...older } = stored.value!;
  await gw.kv.set(["img", id], older);
  gw.services.cache.delete(id);
  // 300 pixels wide: 384 would enlarge it, 256 does not.
  assertBytes((await fetchOk(gw, `/i/${id}.png?w=384`)).bytes, original);
  await fetchOk(gw, `/i/${id}.png?w=256`);
  assert.deepEqual(fake.calls, [{ format: "png", width: 256 }]);
});
