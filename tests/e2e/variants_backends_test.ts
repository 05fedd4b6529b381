/**
 * Image variants through the whole gateway and the real conversion pool, at its edges: variants
 * kept as objects in a real S3 server and deleted with their image, a decompression bomb refused by
 * its header over HTTP, and a full pool answering 503 with `Retry-After` over HTTP.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config.ts";
import { imageHeader } from "../../lib/image_header.ts";
import { getImageMeta } from "../../lib/storage/image_meta.ts";
import { S3Bucket } from "../../lib/storage/s3_bucket.ts";
import type { ConversionPool } from "../../lib/variants/worker_pool.ts";
import {
  assertBytes,
  assertOpenAIError,
  bytesOf,
  GATEWAY_KEY,
  generateImage,
  startGateway,
  type TestGateway,
} from "../_support/gateway.ts";
import { gradientPng } from "../_support/gradient.ts";
import { type S3Server, startS3 } from "../_support/s3_server.ts";

/** Counts the jobs handed to the gateway's own pool; they still run in its real workers. */
function countJobs(pool: ConversionPool): { jobs: number } {
  const count = { jobs: 0 };
  const convert = pool.convert.bind(pool);
  pool.convert = (bytes, request) => {
    count.jobs++;
    return convert(bytes, request);
  };
  return count;
}

/** Every key in the test bucket, read with ListObjectsV2 (at most 1,000: far more than made). */
async function bucketKeys(s3: S3Server): Promise<string[]> {
  const bucket = new S3Bucket(loadConfig(s3.env).s3!);
  const res = await bucket.request("test list", `${bucket.url()}?list-type=2`);
  const xml = await res.text();
  assert.equal(res.status, 200, xml);
  assert.ok(xml.length < 1_000_000, "a bounded listing");
  return [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]).sort();
}

async function deleteImage(gw: TestGateway, id: string): Promise<void> {
  const res = await gw.app.request(`/v1/images/${id}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${GATEWAY_KEY}` },
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
}

Deno.test("with IMAGE_STORE=s3 a variant is made once, kept as an object, and deleted with its image", async () => {
  await using s3 = await startS3();
  const png = await gradientPng(640, 480);
  await using gw = await startGateway({ env: s3.env, fake: { image: () => png } });
  const made = countJobs(gw.services.conversions);
  const { id } = await generateImage(gw);
  assert.deepEqual(await bucketKeys(s3), [`img/${id}`]);

  const first = await gw.app.request(`/i/${id}.webp?w=256`);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("content-type"), "image/webp");
  const webp = await bytesOf(first);
  assert.deepEqual(imageHeader(webp), { type: "webp", width: 256, height: 192 });
  const thumb = await gw.app.request(`/i/${id}.jpg?w=128`);
  assert.equal(thumb.status, 200);
  assert.equal(thumb.headers.get("content-type"), "image/jpeg");
  assert.deepEqual(imageHeader(await bytesOf(thumb)), { type: "jpeg", width: 128, height: 96 });
  assert.equal(made.jobs, 2);

  // Each variant is an image record of its own, its bytes an object in the image's bucket.
  const variants = (await getImageMeta(gw.kv, id))!.variants!;
  assert.deepEqual(Object.keys(variants).sort(), ["jpeg-128", "webp-256"]);
  const webpMeta = (await getImageMeta(gw.kv, variants["webp-256"]))!;
  assert.deepEqual([webpMeta.store, webpMeta.chunks, webpMeta.variantOf], ["s3", 0, id]);
  assert.equal(webpMeta.size, webp.length);
  assert.deepEqual(
    await bucketKeys(s3),
    [id, variants["webp-256"], variants["jpeg-128"]].map((key) => `img/${key}`).sort(),
  );
  assert.deepEqual(
    (await Array.fromAsync(gw.kv.list({ prefix: ["img_chunk"] }))).map((e) => e.key),
    [],
    "no bytes in KV",
  );

  // Asked again, with the in-memory cache emptied: read back from S3, not converted again.
  for (const cached of [id, ...Object.values(variants)]) gw.services.cache.delete(cached);
  const again = await gw.app.request(`/i/${id}.webp?w=256`);
  assert.equal(again.status, 200);
  assert.equal(again.headers.get("etag"), first.headers.get("etag"));
  assertBytes(await bytesOf(again), webp, "the stored variant");
  const fresh = await gw.app.request(`/i/${id}.webp?w=256`, {
    headers: { "if-none-match": first.headers.get("etag")! },
  });
  assert.equal(fresh.status, 304);
  await fresh.body?.cancel();
  assert.equal(made.jobs, 2);

  await deleteImage(gw, id);
  for (const path of [`/i/${id}.webp?w=256`, `/i/${id}.jpg?w=128`, `/i/${id}.png`]) {
    await assertOpenAIError(await gw.app.request(path), 404, { code: "not_found" });
  }
  assert.deepEqual(await bucketKeys(s3), []);
  for (const variant of Object.values(variants)) {
    assert.equal(await getImageMeta(gw.kv, variant), null);
  }
  assert.equal(made.jobs, 2, "a deleted image's variant is not made again");
});

/** A 1 KB PNG whose header claims 100000x100000 pixels: 40 GB once decoded as RGBA. */
function pngBomb(): Uint8Array<ArrayBuffer> {
  const bomb = new Uint8Array(1024);
  bomb.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(bomb.buffer).setUint32(16, 100_000);
  new DataView(bomb.buffer).setUint32(20, 100_000);
  return bomb;
}

Deno.test("GET /i/{id}.webp of a PNG claiming 100000x100000 pixels answers 422 before any worker decodes it", async () => {
  const bomb = pngBomb();
  await using gw = await startGateway({ fake: { image: () => bomb } });
  const { id } = await generateImage(gw);
  for (const path of [`/i/${id}.webp`, `/i/${id}.avif?w=256`]) {
    const res = await gw.app.request(path);
    assert.equal(res.headers.get("cache-control"), null, `${path}: a refusal is not kept`);
    await assertOpenAIError(res, 422, {
      type: "invalid_request_error",
      code: "image_too_large",
      param: "image",
      message: "the image is 100000x100000 (10000.0 megapixels); at most 4.2 megapixels " +
        "are converted",
    });
  }
  assert.deepEqual(gw.services.conversions.load, { workers: 0, running: 0, queued: 0 });
  assert.deepEqual((await getImageMeta(gw.kv, id))!.variants, undefined);
  // The original is still served, byte for byte: only its conversion is refused.
  const original = await gw.app.request(`/i/${id}.png`);
  assert.equal(original.status, 200);
  assert.equal(original.headers.get("content-type"), "image/png");
  assertBytes(await bytesOf(original), bomb, "the original");
});

Deno.test("first requests past one worker and a queue of one answer 503 with Retry-After, and succeed later", async () => {
  // 1.76 megapixels each: a conversion (after the worker's start) takes far longer than the
  // milliseconds the four requests need to reach the pool.
  const png = await gradientPng(1328, 1328);
  await using gw = await startGateway({
    env: { VARIANT_WORKERS: "1", VARIANT_QUEUE: "1" },
    fake: { image: () => png },
  });
  const pool = gw.services.conversions;
  assert.equal(pool.size, 1);
  const made = countJobs(pool);
  const { id } = await generateImage(gw);
  /** Four distinct variants: their content type, header type and width (all square). */
  const wants = new Map<string, [string, string, number]>([
    [`/i/${id}.webp?w=512`, ["image/webp", "webp", 512]],
    [`/i/${id}.webp?w=1024`, ["image/webp", "webp", 1024]],
    [`/i/${id}.jpg?w=768`, ["image/jpeg", "jpeg", 768]],
    [`/i/${id}.png?w=256`, ["image/png", "png", 256]],
  ]);
  /** Asks for a variant; returns its path when refused, after checking the answer exactly. */
  const ask = async (path: string): Promise<string | undefined> => {
    const res = await gw.app.request(path);
    if (res.status === 503) {
      assert.equal(res.headers.get("retry-after"), "1");
      assert.equal(res.headers.get("cache-control"), null, `${path}: a refusal is not kept`);
      await assertOpenAIError(res, 503, {
        type: "server_error",
        code: "server_busy",
        param: null,
        message: "image conversions are at capacity (1 running, 1 waiting); try again in a moment",
      });
      return path;
    }
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    const [type, format, width] = wants.get(path)!;
    assert.equal(res.headers.get("content-type"), type);
    assert.deepEqual(imageHeader(await bytesOf(res)), { type: format, width, height: width });
    return undefined;
  };

  const refused = (await Promise.all([...wants.keys()].map(ask))).filter((path) =>
    path !== undefined
  );
  assert.equal(refused.length, 2, `refused: ${refused.join(", ")}`);
  assert.equal(made.jobs, 4, "all four reached the pool; two were refused there");
  assert.deepEqual(pool.load, { workers: 1, running: 0, queued: 0 });
  // A refused variant was not recorded: asked again with the pool free, it is made.
  assert.deepEqual(await Promise.all(refused.map(ask)), [
    undefined,
    undefined,
  ]);
  assert.equal(made.jobs, 6);
  const variants = (await getImageMeta(gw.kv, id))!.variants!;
  assert.deepEqual(Object.keys(variants).sort(), ["jpeg-768", "png-256", "webp-1024", "webp-512"]);
});
