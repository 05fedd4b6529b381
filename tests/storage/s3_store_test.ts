/**
 * The S3-compatible object store against a real S3 API server on loopback (`s3rver`): bytes as
 * one object per image with only metadata in KV, the same HTTP behaviour for `/i/`, images stored
 * in KV before the switch, deletion and the sweeper, the checks that stop a start, and failures
 * during a generation falling back to SiliconFlow's link.
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config/config.ts";
import { checkObjectStore, StartupError } from "../../lib/startup.ts";
import { getImageMeta, pendingKey } from "../../lib/storage/image_meta.ts";
import { S3Bucket } from "../../lib/storage/s3_bucket.ts";
import { ORPHAN_GRACE_MS, sweepImages } from "../../lib/storage/sweeper.ts";
import {
  assertBytes,
  bytesOf,
  generateImage,
  sha256,
  startGateway,
  type TestGateway,
} from "../_support/gateway.ts";
import { randomPng, tinyPng } from "../_support/images.ts";
import { S3_BUCKET, type S3Server, startS3 } from "../_support/s3_server.ts";

const generate = (gw: TestGateway) => generateImage(gw);

/** The object, read from the server with the gateway's own signed client. */
async function objectOf(s3: S3Server, key: string): Promise<Response> {
  const bucket = new S3Bucket(loadConfig(s3.env).s3!);
  return await bucket.request("test read", bucket.url(key));
}

/** The status of a GET of the object, its body discarded. */
async function objectStatus(s3: S3Server, key: string): Promise<number> {
  const res = await objectOf(s3, key);
  await res.body?.cancel();
  return res.status;
}

async function withKvFile(fn: (kvPath: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(`${dir}/gateway.kv`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function kvKeys(kv: Deno.Kv): Promise<Deno.KvKey[]> {
  return (await Array.fromAsync(kv.list({ prefix: [] }))).map((e) => e.key);
}

Deno.test("IMAGE_STORE=s3 stores an image as one object and only its metadata in KV", async () => {
  await using s3 = await startS3();
  await withKvFile(async (kvPath) => {
    const image = randomPng(300, 300);
    let id: string, path: string;
    {
      await using gw = await startGateway({ kvPath, env: s3.env, fake: { image: () => image } });
      ({ id, path } = await generate(gw));

      const meta = await getImageMeta(gw.kv, id);
      // The metadata and the gallery's index entry; no chunks.
      assert.deepEqual(await kvKeys(gw.kv), [["img", id], [
        "img_owner",
        meta!.owner!,
        meta!.createdAt,
        id,
      ]]);
      assert.deepEqual(meta, {
        v: 1,
        type: "image/png",
        size: image.length,
        sha256: await sha256(image),
        chunks: 0,
        createdAt: meta!.createdAt,
        expiresAt: null,
        store: "s3",
        owner: meta!.owner,
        prompt: "x",
        model: "Kwai-Kolors/Kolors",
        imageSize: "1024x1024",
        width: 300,
        height: 300,
      });
      assert.match(meta!.owner!, /^[0-9a-f]{32}$/);
      const object = await objectOf(s3, `img/${id}`);
      assert.equal(object.status, 200);
      assertBytes(await bytesOf(object), image);
    }

    // A gateway with no cache reads the object: same bytes, ETag, ranges, 304 and HEAD.
    await using cold = await startGateway({ kvPath, env: { ...s3.env, IMAGE_CACHE_MB: "0" } });
    const full = await cold.get(path, { key: null });
    assert.equal(full.status, 200);
    assert.equal(full.headers.get("content-length"), String(image.length));
    assert.equal(full.headers.get("etag"), `"${await sha256(image)}"`);
    assertBytes(await bytesOf(full), image);
    const part = await cold.get(path, { key: null, headers: { range: "bytes=100000-100099" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 100000-100099/${image.length}`);
    assertBytes(await bytesOf(part), image.subarray(100000, 100100));
    const tail = await cold.get(path, { key: null, headers: { range: "bytes=-10" } });
    assert.equal(tail.status, 206);
    assertBytes(await bytesOf(tail), image.subarray(image.length - 10));
    const revalidated = await cold.get(path, {
      key: null,
      headers: { "if-none-match": `"${await sha256(image)}"` },
    });
    assert.equal(revalidated.status, 304);
    assert.equal(await revalidated.text(), "");
    const head = await cold.app.request(path, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(image.length));
    assert.equal(await head.text(), "");
  });
});

Deno.test("images stored in KV before the switch to S3 still serve, new ones go to S3", async () => {
  await using s3 = await startS3();
  const dir = await Deno.makeTempDir();
  try {
    const kvPath = `${dir}/gateway.kv`;
    let before: { id: string; path: string };
    {
      await using kvOnly = await startGateway({ kvPath });
      before = await generate(kvOnly);
    }
    await using gw = await startGateway({ kvPath, env: s3.env });
    const old = await gw.get(before.path, { key: null });
    assert.equal(old.status, 200);
    assertBytes(await bytesOf(old), tinyPng);
    assert.equal((await getImageMeta(gw.kv, before.id))!.store, undefined);

    const after = await generate(gw);
    assert.equal((await getImageMeta(gw.kv, after.id))!.store, "s3");
    assert.equal(await objectStatus(s3, `img/${before.id}`), 404);
    assert.equal(await objectStatus(s3, `img/${after.id}`), 200);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deleting an S3 image removes its metadata, then its object", async () => {
  await using s3 = await startS3();
  await using gw = await startGateway({ env: s3.env });
  const { id, path } = await generate(gw);
  assert.equal(await gw.services.images.delete(id), true);
  assert.deepEqual(await kvKeys(gw.kv), []);
  assert.equal(await objectStatus(s3, `img/${id}`), 404);
  assert.equal((await gw.get(path, { key: null })).status, 404);
  assert.equal(await gw.services.images.delete(id), false);
});

Deno.test("the sweeper removes expired S3 objects and objects of writes that never finished", async () => {
  await using s3 = await startS3();
  await using gw = await startGateway({ env: { ...s3.env, IMAGE_TTL_DAYS: "1" } });
  const { id } = await generate(gw);
  const { images, s3: bucket } = gw.services;
  // A write that crashed after its upload, before its metadata: only the marker and the object.
  const orphan = "orphanorphan0001";
  await bucket!.put(orphan, new Uint8Array([1, 2, 3]), "image/png");
  await gw.kv.set(pendingKey(orphan), { since: Date.now() - ORPHAN_GRACE_MS - 1, store: "s3" });

  const later = Date.now() + 2 * 86_400_000;
  assert.deepEqual(await sweepImages(gw.kv, later, images.deleteBytes), {
    expired: 1,
    orphans: 1,
  });
  assert.deepEqual(await kvKeys(gw.kv), []);
  for (const key of [`img/${id}`, `img/${orphan}`]) {
    assert.equal(await objectStatus(s3, key), 404, key);
  }
});

Deno.test("a start with an unusable object store stops with a message naming what to fix", async () => {
  await using s3 = await startS3();
  const problem = async (env: Record<string, string>) => {
    await using gw = await startGateway({ env: { ...s3.env, ...env } });
    const err = await checkObjectStore(gw.services).then(() => undefined, (e) => e);
    assert.ok(err === undefined || err instanceof StartupError, String(err));
    return err?.message;
  };
  assert.equal(await problem({}), undefined);
  assert.equal(
    await problem({ S3_BUCKET: "missing-bucket" }),
    `Cannot use the object store: S3 bucket "missing-bucket" does not exist at ${s3.endpoint} ` +
      "(S3_BUCKET)",
  );
  assert.equal(
    await problem({ S3_ACCESS_KEY_ID: "AKIAWRONG" }),
    `Cannot use the object store: S3 at ${s3.endpoint} refused the credentials for bucket ` +
      `"${S3_BUCKET}" (HTTP 403); check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION`,
  );
  // A port nothing listens on: the one just freed by a closed listener.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = `http://127.0.0.1:${listener.addr.port}`;
  listener.close();
  const unreachable = await problem({ S3_ENDPOINT: closed });
  assert.match(
    unreachable ?? "",
    new RegExp(`^Cannot use the object store: S3 check: cannot reach ${closed}: `),
  );
});

Deno.test("an object store failing during a generation answers SiliconFlow's link", async () => {
  const s3 = await startS3();
  await using gw = await startGateway({ env: s3.env });
  await s3[Symbol.asyncDispose]();
  const res = await gw.post("/v1/images/generations", { prompt: "x" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "upstream-fallback");
  const body = await res.json();
  assert.ok(body.data[0].url.startsWith(`${new URL(gw.fake.baseUrl).origin}/outputs/`));
  assert.equal(gw.log.warnings.length, 1);
  assert.match(
    gw.log.warnings[0],
    /^image not stored, answering with the upstream link: S3 upload: cannot reach /,
  );
  // The upload never happened: only the pending marker is left, for the sweeper.
  const keys = await kvKeys(gw.kv);
  assert.equal(keys.length, 1);
  assert.equal(keys[0][0], "img_pending");
});

Deno.test("an S3 read failing mid-response ends it and is logged once", async () => {
  await using s3 = await startS3();
  await using gw = await startGateway({ env: { ...s3.env, IMAGE_CACHE_MB: "0" } });
  const { id, path } = await generate(gw);
  await gw.services.s3!.delete(id);
  const res = await gw.get(path, { key: null });
  assert.equal(res.status, 200);
  await assert.rejects(res.arrayBuffer());
  assert.equal(gw.log.errors.length, 1);
  assert.match(gw.log.errors[0], new RegExp(`^S3 read of image ${id} failed: HTTP 404 NoSuchKey`));
});

/** A TCP endpoint that accepts connections and never answers. */
function silentEndpoint() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) conns.push(conn);
    } catch { /* closed */ }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of conns) conn.close();
    },
  };
}

Deno.test("an object store that never answers stops the start after S3_TIMEOUT_SECONDS", async () => {
  await using s3 = await startS3();
  await using silent = silentEndpoint();
  await using gw = await startGateway({
    env: { ...s3.env, S3_ENDPOINT: silent.url, S3_TIMEOUT_SECONDS: "0.3" },
  });
  const started = Date.now();
  await assert.rejects(checkObjectStore(gw.services), {
    message:
      `Cannot use the object store: S3 check: cannot reach ${silent.url}: no answer within ` +
      "0.3 s (S3_TIMEOUT_SECONDS)",
  });
  assert.ok(Date.now() - started < 3000);
});

Deno.test("an upload that hangs answers SiliconFlow's link once S3_TIMEOUT_SECONDS is over", async () => {
  await using s3 = await startS3();
  await using silent = silentEndpoint();
  await using gw = await startGateway({
    env: { ...s3.env, S3_ENDPOINT: silent.url, S3_TIMEOUT_SECONDS: "0.3" },
  });
  const res = await gw.post("/v1/images/generations", { prompt: "x" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "upstream-fallback");
  await res.body?.cancel();
  assert.match(gw.log.warnings[0], /S3 upload: cannot reach .*: no answer within 0\.3 s/);
});

Deno.test("a reader that leaves while S3 is answering releases the S3 response", async () => {
  await using s3 = await startS3();
  await using gw = await startGateway({ env: { ...s3.env, IMAGE_CACHE_MB: "0" } });
  const { id } = await generate(gw);
  const meta = (await getImageMeta(gw.kv, id))!;
  // Cancelled at once and after 1–5 ms: before the request, while S3 answers, after its headers.
  for (let i = 0; i < 6; i++) {
    const reader = gw.services.images.open(id, meta).getReader();
    const pending = reader.read().catch(() => undefined);
    if (i > 0) await new Promise((r) => setTimeout(r, i));
    await reader.cancel();
    await pending;
  }
  // The sanitizers fail this test if an S3 response body was left open.
});

Deno.test("deleting an image purges the CDN even when its object cannot be deleted now", async () => {
  const s3 = await startS3();
  const purges: unknown[] = [];
  const fetchWithCdn: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).host !== "cache.localhost") return await fetch(request);
    purges.push(await request.json());
    return new Response(null, { status: 200 });
  };
  await using gw = await startGateway({
    env: { ...s3.env, DENO_DEPLOY: "true" },
    fetch: fetchWithCdn,
  });
  const { id } = await generate(gw);
  await s3[Symbol.asyncDispose]();
  await assert.rejects(gw.services.images.delete(id), /S3 deletion: cannot reach/);
  assert.deepEqual(purges, [{ tags: [`img-${id}`] }]);
  assert.equal(await getImageMeta(gw.kv, id), null);
  // The pending marker is left for the sweeper to delete the object later.
  assert.deepEqual((await gw.kv.get(pendingKey(id))).value, { since: 0, store: "s3" });
});
