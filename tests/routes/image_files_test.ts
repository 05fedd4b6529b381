/**
 * HTTP semantics of `GET|HEAD /i/:id` through the app: headers, conditional requests, ranges,
 * HEAD, not-found answers, expiry and durability across restarts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { CHUNK_SIZE, putImage } from "../../lib/storage/kv_store.ts";
import { PNG } from "../../lib/storage/image_type.ts";
import { refuseVariants } from "../../lib/storage/image_variants.ts";
import { FakeSiliconFlow } from "../_support/fake_siliconflow.ts";
import {
  assertBytes,
  assertOpenAIError,
  bytesOf,
  type GatewayOptions,
  headersOf as allHeaders,
  linkPath,
  sha256,
  startGateway,
  type TestGateway,
} from "../_support/gateway.ts";
import { randomPng, tinyGif, tinyJpeg, tinyPng, tinyWebp } from "../_support/images.ts";

const IMMUTABLE = "public, max-age=31536000, immutable";

/** Generates one image through the API and returns its `/i/...` path. */
async function generate(gw: TestGateway): Promise<string> {
  const res = await gw.post("/v1/images/generations", {
    model: "Kwai-Kolors/Kolors",
    prompt: "x",
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.data.length, 1);
  return linkPath(body.data[0].url);
}

/** A gateway whose fake upstream serves `image`, with one image generated; returns its path. */
async function gatewayWith(
  image: Uint8Array,
  options: GatewayOptions = {},
): Promise<{ gw: TestGateway; path: string }> {
  const gw = await startGateway({ ...options, fake: { image: () => image, ...options.fake } });
  try {
    return { gw, path: await generate(gw) };
  } catch (err) {
    await gw[Symbol.asyncDispose]();
    throw err;
  }
}

/** The headers every 200 answer for `bytes` carries, except `last-modified`. */
async function fullHeaders(bytes: Uint8Array<ArrayBuffer>, type: string) {
  return {
    "accept-ranges": "bytes",
    "access-control-allow-origin": "*",
    "cache-control": IMMUTABLE,
    "content-length": String(bytes.length),
    "content-type": type,
    "cross-origin-resource-policy": "cross-origin",
    etag: `"${await sha256(bytes)}"`,
    "x-content-type-options": "nosniff",
  };
}

/** The response headers without `last-modified`, which is checked to be a recent HTTP date. */
function headersOf(res: Response, since = 0): Record<string, string> {
  const { "last-modified": lastModified, ...rest } = allHeaders(res);
  assert.match(
    lastModified ?? "",
    /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  );
  const at = Date.parse(lastModified);
  assert.ok(
    at >= Math.floor(since / 1000) * 1000 && at <= Date.now(),
    `last-modified ${lastModified}`,
  );
  return rest;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sf-image-gateway-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (
  const [name, image, type, ext] of [
    ["PNG", tinyPng, "image/png", "png"],
    ["JPEG", tinyJpeg, "image/jpeg", "jpg"],
    ["WebP", tinyWebp, "image/webp", "webp"],
    ["GIF", tinyGif, "image/gif", "gif"],
  ] as const
) {
  Deno.test(`GET /i/:id serves a ${name} byte for byte with caching, CORS and range headers`, async () => {
    const since = Date.now();
    const { gw, path } = await gatewayWith(image);
    await using _gw = gw;
    assert.ok(path.endsWith(`.${ext}`), path);

    const res = await gw.get(path, { key: null });

    assert.equal(res.status, 200);
    assert.deepEqual(headersOf(res, since), await fullHeaders(image, type));
    assertBytes(await bytesOf(res), image);
  });
}

Deno.test("GET /i/:id needs no credentials in pool mode, and ignores a wrong key", async () => {
  const { gw, path } = await gatewayWith(tinyPng);
  await using _gw = gw;
  assert.equal(gw.services.config.authMode, "pool");

  const anonymous = await gw.get(path, { key: null });
  assert.equal(anonymous.status, 200);
  assert.equal(anonymous.headers.get("content-type"), "image/png");
  assertBytes(await bytesOf(anonymous), tinyPng);

  const wrongKey = await gw.get(path, { key: "not-a-gateway-key" });
  assert.equal(wrongKey.status, 200);
  assertBytes(await bytesOf(wrongKey), tinyPng);

  // The API itself does need a key: the image route is the exception.
  const api = await gw.post("/v1/images/generations", { prompt: "x" }, { key: null });
  await assertOpenAIError(api, 401, { code: "invalid_api_key" });
});

Deno.test("GET /i/:id serves the image without an extension and with its own in any case", async () => {
  const { gw, path } = await gatewayWith(tinyPng);
  await using _gw = gw;
  const id = path.slice("/i/".length, -".png".length);
  for (const same of [`/i/${id}`, `/i/${id}.PNG`, `/i/${id}.Png`]) {
    const res = await gw.get(same, { key: null });
    assert.equal(res.status, 200, same);
    assert.equal(res.headers.get("content-type"), "image/png");
    assertBytes(await bytesOf(res), tinyPng);
  }
});

Deno.test("GET /i/:id answers another format's extension with a variant, never a redirect", async () => {
  // No converter here: the variant is refused (tests/routes/image_variants_test.ts makes them).
  const { gw, path } = await gatewayWith(tinyJpeg, { convert: refuseVariants });
  await using _gw = gw;
  const id = path.slice("/i/".length, -".jpg".length);
  for (const method of ["GET", "HEAD"]) {
    for (const ext of ["png", "WEBP", "avif"]) {
      const res = await gw.app.request(`/i/${id}.${ext}`, { method });
      assert.equal(res.status, 501, `${method} .${ext}`);
      assert.equal(res.headers.get("location"), null);
      await res.body?.cancel();
    }
  }
  // Both spellings of JPEG are its own; anything else that is no format served is a 404.
  for (const ext of ["jpeg", "JPG"]) {
    const res = await gw.get(`/i/${id}.${ext}`, { key: null });
    assert.equal(res.status, 200, ext);
    assertBytes(await bytesOf(res), tinyJpeg);
  }
  for (const ext of ["exe", "gif"]) {
    await assertOpenAIError(await gw.get(`/i/${id}.${ext}`, { key: null }), 404, {
      code: "not_found",
    });
  }
});

Deno.test("OPTIONS /i/:id answers a browser's CORS preflight", async () => {
  const { gw, path } = await gatewayWith(tinyPng);
  await using _gw = gw;
  const res = await gw.app.request(path, {
    method: "OPTIONS",
    headers: {
      origin: "https://chat.example",
      "access-control-request-method": "GET",
      "access-control-request-headers": "range",
    },
  });
  assert.equal(res.status, 204);
  assert.deepEqual(allHeaders(res), {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET,HEAD,OPTIONS",
    "access-control-allow-headers": "range,if-none-match,if-range",
    "access-control-max-age": "86400",
    vary: "Access-Control-Request-Headers",
  });
});

Deno.test("GET /i/:id answers 304 when If-None-Match matches the ETag, weakly or in a list", async () => {
  const since = Date.now();
  const { gw, path } = await gatewayWith(tinyPng);
  await using _gw = gw;
  const hash = await sha256(tinyPng);

  for (
    const ifNoneMatch of [`"${hash}"`, `W/"${hash}"`, `"a", "${hash}"`, `"a",W/"${hash}"`, "*"]
  ) {
    const res = await gw.get(path, { key: null, headers: { "if-none-match": ifNoneMatch } });
    assert.equal(res.status, 304, ifNoneMatch);
    assert.deepEqual(headersOf(res, since), {
      "access-control-allow-origin": "*",
      "cache-control": IMMUTABLE,
      "cross-origin-resource-policy": "cross-origin",
      etag: `"${hash}"`,
      "x-content-type-options": "nosniff",
    });
    assert.equal(await res.text(), "");
  }
});

Deno.test("GET /i/:id answers 200 when If-None-Match names other ETags", async () => {
  const { gw, path } = await gatewayWith(tinyPng);
  await using _gw = gw;
  const hash = await sha256(tinyPng);
  for (const ifNoneMatch of [`"a"`, `"a", "b"`, hash, `"${hash.slice(1)}"`]) {
    const res = await gw.get(path, { key: null, headers: { "if-none-match": ifNoneMatch } });
    assert.equal(res.status, 200, ifNoneMatch);
    assert.equal(res.headers.get("etag"), `"${hash}"`);
    assertBytes(await bytesOf(res), tinyPng);
  }
});

Deno.test("GET /i/:id answers 304 when If-None-Match matches, without reading chunks", async () => {
  await withTempDir(async (dir) => {
    const kvPath = `${dir}/gateway.kv`;
    const image = randomPng(300, 300);
    let path: string;
    {
      const first = await gatewayWith(image, { kvPath });
      await using _gw = first.gw;
      path = first.path;
    }
    // A second gateway on the same KV starts with an empty memory cache.
    await using gw = await startGateway({ kvPath });
    const id = path.slice("/i/".length, -".png".length);
    const chunks = await Array.fromAsync(gw.kv.list({ prefix: ["img_chunk", id] }));
    assert.equal(chunks.length, Math.ceil(image.length / CHUNK_SIZE));
    for (const chunk of chunks) await gw.kv.delete(chunk.key);

    const etag = `"${await sha256(image)}"`;
    const res = await gw.get(path, { key: null, headers: { "if-none-match": etag } });
    assert.equal(res.status, 304);
    assert.equal(res.headers.get("etag"), etag);
    assert.equal(res.headers.get("cache-control"), IMMUTABLE);
    assert.equal(await res.text(), "");

    // HEAD needs no chunks either.
    const head = await gw.app.request(path, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(image.length));
    assert.equal(await head.text(), "");

    // Proof that reading the chunks now fails: a plain GET cannot serve the image.
    const plain = await gw.get(path, { key: null });
    await assertOpenAIError(plain, 500, { code: "internal_error", type: "server_error" });
    assert.equal(gw.log.errors.length, 1);
    assert.match(gw.log.errors[0], /chunk 0 is missing/);
  });
});

Deno.test("GET /i/:id answers 206 with exactly the bytes of a single range", async () => {
  const image = randomPng(100, 100);
  const size = image.length;
  const { gw, path } = await gatewayWith(image);
  await using _gw = gw;
  const etag = `"${await sha256(image)}"`;

  for (
    const [range, start, end] of [
      ["bytes=0-99", 0, 100],
      ["bytes=-10", size - 10, size],
      ["bytes=100-", 100, size],
      ["bytes=5-5", 5, 6],
      [`bytes=${size - 1}-`, size - 1, size],
      [`bytes=10-${size + 1000}`, 10, size],
      [`bytes=-${size + 1000}`, 0, size],
    ] as const
  ) {
    const res = await gw.get(path, { key: null, headers: { range } });
    assert.equal(res.status, 206, range);
    assert.deepEqual(headersOf(res), {
      "accept-ranges": "bytes",
      "access-control-allow-origin": "*",
      "cache-control": IMMUTABLE,
      "content-length": String(end - start),
      "content-range": `bytes ${start}-${end - 1}/${size}`,
      "content-type": "image/png",
      "cross-origin-resource-policy": "cross-origin",
      etag,
      "x-content-type-options": "nosniff",
    }, range);
    assertBytes(await bytesOf(res), image.subarray(start, end), range);
  }
});

for (
  const [how, env] of [
    ["from the memory cache", {}],
    ["streamed from KV chunks", { IMAGE_CACHE_MB: "0" }],
  ] as const
) {
  Deno.test(`GET /i/:id serves a ~1 MB image and ranges across chunk boundaries ${how}`, async () => {
    const image = randomPng(600, 600);
    const size = image.length;
    assert.ok(size > 16 * CHUNK_SIZE, `fixture is ${size} bytes`);
    const { gw, path } = await gatewayWith(image, { env });
    await using _gw = gw;
    const id = path.slice("/i/".length, -".png".length);
    assert.equal(gw.services.cache.get(id) !== undefined, how === "from the memory cache");

    const full = await gw.get(path, { key: null });
    assert.equal(full.status, 200);
    assert.equal(full.headers.get("content-length"), String(size));
    assertBytes(await bytesOf(full), image);

    for (
      const [start, end] of [
        [CHUNK_SIZE - 10, CHUNK_SIZE + 10],
        [CHUNK_SIZE, CHUNK_SIZE + 1],
        [CHUNK_SIZE - 1, CHUNK_SIZE],
        [3 * CHUNK_SIZE - 7, 12 * CHUNK_SIZE + 3],
        [size - 100, size],
      ]
    ) {
      const range = `bytes=${start}-${end - 1}`;
      const res = await gw.get(path, { key: null, headers: { range } });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers.get("content-range"), `bytes ${start}-${end - 1}/${size}`);
      assert.equal(res.headers.get("content-length"), String(end - start));
      assertBytes(await bytesOf(res), image.subarray(start, end), range);
    }
    assert.deepEqual(gw.log.errors, []);
  });
}

Deno.test("GET /i/:id answers an uncacheable 416 with the size when a range starts past the end", async () => {
  const { gw, path } = await gatewayWith(tinyPng);
  await using _gw = gw;
  const size = tinyPng.length;
  for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`, "bytes=-0"]) {
    const res = await gw.get(path, { key: null, headers: { range } });
    assert.equal(res.status, 416, range);
    assert.deepEqual(allHeaders(res), {
      "accept-ranges": "bytes",
      "access-control-allow-origin": "*",
      "cache-control": "no-store",
      "content-range": `bytes */${size}`,
      "x-content-type-options": "nosniff",
    });
    assert.equal(await res.text(), "");
  }
});

Deno.test("GET /i/:id ignores invalid, multiple and unknown-unit ranges and serves the whole image", async () => {
  const { gw, path } = await gatewayWith(tinyPng);
  await using _gw = gw;
  for (const range of ["bytes=5-3", "bytes=0-1,5-6", "bytes=-", "items=0-1", "bytes=a-b"]) {
    const res = await gw.get(path, { key: null, headers: { range } });
    assert.equal(res.status, 200, range);
    assert.deepEqual(headersOf(res), await fullHeaders(tinyPng, "image/png"), range);
    assertBytes(await bytesOf(res), tinyPng, range);
  }
});

Deno.test("GET /i/:id honours Range only when If-Range names the current ETag", async () => {
  const { gw, path } = await gatewayWith(tinyPng);
  await using _gw = gw;
  const etag = `"${await sha256(tinyPng)}"`;

  for (const ifRange of [`"other"`, `W/${etag}`, new Date().toUTCString()]) {
    const stale = await gw.get(path, {
      key: null,
      headers: { range: "bytes=0-9", "if-range": ifRange },
    });
    assert.equal(stale.status, 200, ifRange);
    assert.equal(stale.headers.get("content-range"), null);
    assert.equal(stale.headers.get("content-length"), String(tinyPng.length));
    assertBytes(await bytesOf(stale), tinyPng);
  }

  const fresh = await gw.get(path, {
    key: null,
    headers: { range: "bytes=0-9", "if-range": etag },
  });
  assert.equal(fresh.status, 206);
  assert.equal(fresh.headers.get("content-range"), `bytes 0-9/${tinyPng.length}`);
  assert.equal(fresh.headers.get("content-length"), "10");
  assertBytes(await bytesOf(fresh), tinyPng.subarray(0, 10));
});

Deno.test("HEAD /i/:id answers the same status and headers as GET, without a body", async () => {
  for (const env of [{}, { IMAGE_CACHE_MB: "0" }]) {
    const image = randomPng(200, 200);
    const { gw, path } = await gatewayWith(image, { env });
    await using _gw = gw;

    const variants: Record<string, string>[] = [
      {},
      { range: "bytes=10-19" },
      { range: `bytes=${image.length}-` },
      { "if-none-match": `"${await sha256(image)}"` },
    ];
    for (const headers of variants) {
      const get = await gw.get(path, { key: null, headers });
      const head = await gw.app.request(path, { method: "HEAD", headers });
      assert.equal(head.status, get.status, JSON.stringify(headers));
      assert.deepEqual(allHeaders(head), allHeaders(get));
      assert.equal(await head.text(), "");
      await get.body?.cancel();
    }

    const head = await gw.app.request(path, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.deepEqual(headersOf(head), await fullHeaders(image, "image/png"));
    assert.equal(await head.text(), "");
  }
});

Deno.test("HEAD /i/:id answers 404 without a body for an unknown image", async () => {
  await using gw = await startGateway();
  const res = await gw.app.request("/i/AAAAAAAAAAAAAAAA.png", { method: "HEAD" });
  assert.equal(res.status, 404);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(await res.text(), "");
});

Deno.test("GET /i/:id answers 404 not_found for unknown ids and names that cannot be ids", async () => {
  await using gw = await startGateway();
  for (
    const path of [
      "/i/AAAAAAAAAAAAAAAA.png",
      "/i/AAAAAAAAAAAAAAAA",
      "/i/x",
      "/i/..%2Fetc",
      "/i/AAAAAAAAAAAAAAAA.exe",
      "/i/AAAAAAAAAAAAAAAA.png.png",
    ]
  ) {
    const res = await gw.get(path, { key: null });
    await assertOpenAIError(res, 404, {
      code: "not_found",
      type: "invalid_request_error",
      param: null,
    });
  }
});

Deno.test("GET /i/../etc is normalised by URL parsing and answers 404 unknown_route", async () => {
  await using gw = await startGateway();
  const res = await gw.get("/i/../etc", { key: null });
  await assertOpenAIError(res, 404, { code: "unknown_route", message: /\/etc/ });
});

Deno.test("GET /i/:id serves byte-identical images after a restart on the same KV file", async () => {
  await withTempDir(async (dir) => {
    const kvPath = `${dir}/gateway.kv`;
    const image = randomPng(600, 600);
    await using fake = new FakeSiliconFlow({ image: () => image });
    let path: string;
    {
      await using gw = await startGateway({ kvPath, sharedFake: fake });
      path = await generate(gw);
    }
    fake.expireAllLinks();

    await using gw = await startGateway({ kvPath, sharedFake: fake });
    const res = await gw.get(path, { key: null });
    assert.equal(res.status, 200);
    assert.deepEqual(headersOf(res), await fullHeaders(image, "image/png"));
    assertBytes(await bytesOf(res), image);
    // The first read filled the cache; a second answers the same bytes.
    const again = await gw.get(path, { key: null });
    assert.equal(again.status, 200);
    assertBytes(await bytesOf(again), image);
    assert.equal(fake.imageRequests.length, 1);
  });
});

Deno.test("GET /i/:id answers 404 for an image past its expiry", async () => {
  await using gw = await startGateway();
  const { id } = await putImage(gw.kv, tinyPng, { type: PNG, ttlMs: 1000, now: Date.now() - 5000 });
  for (const path of [`/i/${id}.png`, `/i/${id}`]) {
    const res = await gw.get(path, { key: null });
    await assertOpenAIError(res, 404, { code: "not_found" });
  }
  const conditional = await gw.get(`/i/${id}.png`, {
    key: null,
    headers: { "if-none-match": "*" },
  });
  await assertOpenAIError(conditional, 404, { code: "not_found" });
});

Deno.test("GET /i/:id limits max-age of an expiring image to the seconds it has left", async () => {
  await using gw = await startGateway();
  const ttlMs = 3_600_000;
  const { id, meta } = await putImage(gw.kv, tinyPng, { type: PNG, ttlMs });
  const expiresAt = meta.expiresAt ?? NaN;
  const before = Date.now();
  const res = await gw.get(`/i/${id}.png`, { key: null });
  const after = Date.now();
  assert.equal(res.status, 200);
  const maxAge = Number(
    /^public, max-age=(\d+), immutable$/.exec(res.headers.get("cache-control") ?? "")?.[1],
  );
  // Seconds left when the request was answered, somewhere between `before` and `after`.
  assert.ok(maxAge <= Math.floor((expiresAt - before) / 1000), `max-age ${maxAge}`);
  assert.ok(maxAge >= Math.floor((expiresAt - after) / 1000), `max-age ${maxAge}`);
  assert.ok(maxAge > 3500 && maxAge <= 3600, `max-age ${maxAge}`);
  assert.equal(res.headers.get("etag"), `"${meta.sha256}"`);
  assertBytes(await bytesOf(res), tinyPng);
});

Deno.test("GET /i/:id serves images generated with IMAGE_TTL_DAYS with a bounded max-age", async () => {
  const { gw, path } = await gatewayWith(tinyPng, { env: { IMAGE_TTL_DAYS: "1" } });
  await using _gw = gw;
  const res = await gw.get(path, { key: null });
  assert.equal(res.status, 200);
  const maxAge = Number(
    /^public, max-age=(\d+), immutable$/.exec(res.headers.get("cache-control") ?? "")?.[1],
  );
  assert.ok(maxAge <= 86_400 && maxAge >= 86_390, `max-age ${maxAge}`);
  assertBytes(await bytesOf(res), tinyPng);
});

Deno.test("the request log leaves out successful image fetches but keeps failed ones and API calls", async () => {
  await using gw = await startGateway();
  const res = await gw.post("/v1/images/generations", { prompt: "x" });
  const path = linkPath((await res.json()).data[0].url);
  await (await gw.get(path, { key: null })).body?.cancel();
  await (await gw.get("/i/AAAAAAAAAAAAAAAA.png", { key: null })).body?.cancel();
  assert.equal(gw.log.lines.length, 2);
  assert.match(gw.log.lines[0], /^POST \/v1\/images\/generations 200 \d+ms$/);
  assert.match(gw.log.lines[1], /^GET \/i\/AAAAAAAAAAAAAAAA\.png 404 \d+ms$/);
});
