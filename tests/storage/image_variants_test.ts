/**
 * The life of stored variants on both backends (KV chunks and S3 objects): kept in the image's
 * backend and listed in its metadata, deleted with it, swept with it when it expires, and never
 * served or listed when half written or when the image went away meanwhile.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config/config.ts";
import { getImageMeta } from "../../lib/storage/image_meta.ts";
import { PNG } from "../../lib/storage/image_type.ts";
import { S3Bucket } from "../../lib/storage/s3_bucket.ts";
import { ORPHAN_GRACE_MS, sweepImages } from "../../lib/storage/sweeper.ts";
import {
  assertBytes,
  assertOpenAIError,
  bytesOf,
  GATEWAY_KEY,
  type GatewayOptions,
  generateImage,
  startGateway,
} from "../_support/gateway.ts";
import { randomPng } from "../_support/images.ts";
import { type S3Server, startS3 } from "../_support/s3_server.ts";
import { fakeConverter } from "../_support/variants.ts";

const DAY_MS = 86_400_000;
/** Wider than every width the tests ask for, so each `?w=` makes a variant. */
const original = randomPng(700, 300);
const fake = { image: () => original };

/** Runs `fn` on a KV-backed gateway, then on an S3-backed one. */
async function onBothBackends(
  fn: (options: GatewayOptions, s3: S3Server | undefined) => Promise<void>,
): Promise<void> {
  await fn({}, undefined);
  await using s3 = await startS3();
  await fn({ env: s3.env }, s3);
}

async function objectStatus(s3: S3Server, key: string): Promise<number> {
  const bucket = new S3Bucket(loadConfig(s3.env).s3!);
  const res = await bucket.request("test read", bucket.url(key));
  await res.body?.cancel();
  return res.status;
}

async function kvKeys(kv: Deno.Kv, prefix: string): Promise<Deno.KvKey[]> {
  const keys = [];
  for await (const entry of kv.list({ prefix: [prefix] })) keys.push(entry.key);
  return keys;
}

Deno.test("DELETE /v1/images/{id} deletes every variant's bytes, and every variant answers 404", async () => {
  await onBothBackends(async (options, s3) => {
    const converter = fakeConverter();
    await using gw = await startGateway({ ...options, fake, convert: converter.convert });
    const { id } = await generateImage(gw);
    const paths = [`/i/${id}.webp`, `/i/${id}.jpg`, `/i/${id}.png?w=64`, `/i/${id}.avif?w=128`];
    for (const path of paths) {
      const res = await gw.app.request(path);
      assert.equal(res.status, 200, path);
      await res.body?.cancel();
    }
    const variants = Object.values((await getImageMeta(gw.kv, id))!.variants!);
    assert.equal(variants.length, 4);
    for (const variant of variants) {
      const meta = await getImageMeta(gw.kv, variant);
      // Each in the image's own backend.
      assert.equal(meta!.store, s3 ? "s3" : undefined);
      if (s3) assert.equal(await objectStatus(s3, `img/${variant}`), 200);
    }

    const deleted = await gw.app.request(`/v1/images/${id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${GATEWAY_KEY}` },
    });
    assert.equal(deleted.status, 200);
    await deleted.body?.cancel();
    for (const path of [...paths, `/i/${id}.png`]) {
      await assertOpenAIError(await gw.app.request(path), 404, { code: "not_found" });
    }
    for (const variant of variants) {
      assert.equal(await getImageMeta(gw.kv, variant), null);
      if (s3) assert.equal(await objectStatus(s3, `img/${variant}`), 404);
    }
    assert.deepEqual(await kvKeys(gw.kv, "img_chunk"), []);
    assert.deepEqual(await kvKeys(gw.kv, "img_pending"), []);
    assert.equal(converter.calls.length, 4);
  });
});

Deno.test("the sweeper removes an expired image's variants with it", async () => {
  await onBothBackends(async (options, s3) => {
    const converter = fakeConverter();
    await using gw = await startGateway({
      ...options,
      fake,
      env: { ...options.env, IMAGE_TTL_DAYS: "1" },
      convert: converter.convert,
    });
    const { id } = await generateImage(gw);
    const res = await gw.app.request(`/i/${id}.webp`);
    assert.equal(res.status, 200);
    // A variant lasts exactly as long as its image.
    assert.equal(
      res.headers.get("cache-control"),
      (await gw.app.request(`/i/${id}.png`, { method: "HEAD" })).headers.get("cache-control"),
    );
    await res.body?.cancel();
    const [variant] = Object.values((await getImageMeta(gw.kv, id))!.variants!);
    const { images } = gw.services;
    assert.deepEqual(await sweepImages(gw.kv, Date.now() + 2 * DAY_MS, images.deleteBytes), {
      expired: 2,
      orphans: 0,
    });
    for (const prefix of ["img", "img_chunk", "img_pending", "img_expiry"]) {
      assert.deepEqual(await kvKeys(gw.kv, prefix), [], prefix);
    }
    if (s3) assert.equal(await objectStatus(s3, `img/${variant}`), 404);
  });
});

Deno.test("a variant made while its image is deleted is deleted, never listed", async () => {
  await onBothBackends(async (options) => {
    const converter = fakeConverter();
    await using gw = await startGateway({ ...options, fake, convert: converter.convert });
    const { id } = await generateImage(gw);
    converter.before = async () => void await gw.services.images.delete(id);
    await assertOpenAIError(await gw.app.request(`/i/${id}.webp`), 404, { code: "not_found" });
    for (const prefix of ["img", "img_chunk", "img_pending"]) {
      assert.deepEqual(await kvKeys(gw.kv, prefix), [], prefix);
    }
    assert.equal(converter.calls.length, 1);
  });
});

Deno.test("a variant whose KV write fails midway is never served, and the sweeper clears what is left", async () => {
  let failAt = -1;
  let commits = 0;
  // Fails one commit: the write's last (the variant is ~1 MB, so its chunks take two commits).
  const flaky = (kv: Deno.Kv): Deno.Kv =>
    new Proxy(kv, {
      get(target, prop) {
        if (prop !== "atomic") {
          const value = Reflect.get(target, prop);
          return typeof value === "function" ? value.bind(target) : value;
        }
        return () => {
          const op = target.atomic();
          const wrapped: Deno.AtomicOperation = new Proxy(op, {
            get(o, p) {
              if (p === "commit") {
                return () =>
                  commits++ === failAt ? Promise.reject(new Error("simulated")) : o.commit();
              }
              const value = Reflect.get(o, p);
              return typeof value === "function"
                ? (...args: unknown[]) =>
                  value.apply(o, args) === o ? wrapped : value.apply(o, args)
                : value;
            },
          });
          return wrapped;
        };
      },
    });
  const converter = fakeConverter();
  const big = randomPng(600, 600);
  converter.convert = async (_original, want) => {
    converter.calls.push(want);
    return await Promise.resolve({ bytes: big, type: PNG });
  };
  await using gw = await startGateway({ fake, wrapKv: flaky, convert: converter.convert });
  const { id } = await generateImage(gw);
  failAt = commits + 1;
  const failed = await gw.app.request(`/i/${id}.png?w=512`);
  assert.equal(failed.status, 500);
  await failed.body?.cancel();
  assert.equal((await getImageMeta(gw.kv, id))!.variants, undefined);
  // Only the image's own chunks: the variant's were removed as the write gave up.
  assert.deepEqual((await kvKeys(gw.kv, "img_chunk")).filter((key) => key[1] !== id), []);
  // The write's pending marker stays for the sweeper.
  const [marker] = await kvKeys(gw.kv, "img_pending");
  assert.ok(marker);
  const swept = await sweepImages(
    gw.kv,
    Date.now() + ORPHAN_GRACE_MS + 1000,
    gw.services.images.deleteBytes,
  );
  assert.deepEqual(swept, { expired: 0, orphans: 1 });
  assert.deepEqual(await kvKeys(gw.kv, "img_pending"), []);

  const made = await gw.app.request(`/i/${id}.png?w=512`);
  assert.equal(made.status, 200);
  assertBytes(await bytesOf(made), big);
  assert.equal(converter.calls.length, 2);
});
