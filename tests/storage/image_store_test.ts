/**
 * The image store as `/i/` uses it under load: one shared read per image for concurrent misses,
 * streams (not whole copies) past the cache's fill budget, a disconnecting client freeing its
 * stream, a read failing mid-stream; Deno Deploy's CDN headers and purge on deletion; the sweep
 * lease.
 *
 * @module
 */
import assert from "node:assert/strict";
import { REVALIDATE_MS } from "../../lib/storage/image_store.ts";
import { MAX_STORAGE_STREAMS, SLOT_IDLE_MS } from "../../lib/storage/stream_slots.ts";
import { underSweepLease } from "../../lib/storage/sweeper.ts";
import {
  assertBytes,
  bytesOf,
  generateImage,
  startGateway,
  type TestGateway,
  withChunkLists,
} from "../_support/gateway.ts";
import { randomPng } from "../_support/images.ts";

/** A KV that counts chunk listings and the chunks read through them. */
function countingKv() {
  const counts = { chunkLists: 0, chunksRead: 0 };
  const wrap = withChunkLists((iterator) => {
    counts.chunkLists++;
    const next = iterator.next.bind(iterator);
    iterator.next = async () => {
      const result = await next();
      if (!result.done) counts.chunksRead++;
      return result;
    };
  });
  return { counts, wrap };
}

const generate = (gw: TestGateway) => generateImage(gw);

Deno.test("concurrent cache misses for one image share one read from storage", async () => {
  const image = randomPng(300, 300);
  const { counts, wrap } = countingKv();
  await using gw = await startGateway({ wrapKv: wrap, fake: { image: () => image } });
  const { id, path } = await generate(gw);
  gw.services.cache.delete(id);

  const answers = await Promise.all(
    Array.from({ length: 20 }, () => gw.get(path, { key: null })),
  );
  for (const res of answers) {
    assert.equal(res.status, 200);
    assertBytes(await bytesOf(res), image);
  }
  assert.equal(counts.chunkLists, 1);
  assert.ok(gw.services.cache.get(id));
});

Deno.test("misses past the cache's fill budget stream from storage instead of loading copies", async () => {
  // 1 MB cache: images up to 128 KiB are cached, and at most 256 KiB are loaded at once.
  const image = randomPng(180, 180);
  assert.ok(image.length > 90_000 && image.length < 128 * 1024, `${image.length} bytes`);
  const { counts, wrap } = countingKv();
  await using gw = await startGateway({
    env: { IMAGE_CACHE_MB: "1" },
    wrapKv: wrap,
    fake: { image: () => image },
  });
  const paths: string[] = [];
  for (let i = 0; i < 4; i++) {
    const { id, path } = await generate(gw);
    gw.services.cache.delete(id);
    paths.push(path);
  }
  const answers = await Promise.all(paths.map((path) => gw.get(path, { key: null })));
  for (const res of answers) assertBytes(await bytesOf(res), image);
  // Two loads fit the budget; the other two readers streamed: four reads, two images cached.
  assert.equal(counts.chunkLists, 4);
  assert.equal(gw.services.cache.size, 2 * image.length);
});

Deno.test("a client that disconnects in the middle of /i/ stops the reading of its image", async () => {
  const image = randomPng(1600, 1600); // ~7.7 MB: far more than the socket buffers hold
  const chunks = Math.ceil(image.length / 64_000);
  const { counts, wrap } = countingKv();
  await using gw = await startGateway({
    env: { IMAGE_CACHE_MB: "0" },
    wrapKv: wrap,
    fake: { image: () => image },
  });
  const { path } = await generate(gw);
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, gw.app.fetch);
  const res = await fetch(`http://127.0.0.1:${server.addr.port}${path}`);
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  assert.ok(((await reader.read()).value?.length ?? 0) > 0);
  await reader.cancel();
  // Bounded wait until the server has noticed and the reads have stopped.
  let seen = -1;
  for (let i = 0; i < 50 && seen !== counts.chunksRead; i++) {
    seen = counts.chunksRead;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(counts.chunkLists, 1);
  assert.ok(counts.chunksRead < chunks / 2, `${counts.chunksRead} of ${chunks} chunks read`);
});

Deno.test("a KV read failing in the middle of /i/ ends the response and is logged once", async () => {
  const image = randomPng(700, 700);
  await using gw = await startGateway({
    env: { IMAGE_CACHE_MB: "0" },
    fake: { image: () => image },
  });
  const { id, path } = await generate(gw);
  await gw.kv.delete(["img_chunk", id, 10]);
  const res = await gw.get(path, { key: null });
  assert.equal(res.status, 200);
  await assert.rejects(res.arrayBuffer());
  assert.deepEqual(gw.log.errors, [`Cannot read image ${id}: chunk 10 is missing `]);
});

Deno.test("on Deno Deploy /i/ answers carry a stable Deno-Cache-Id and the image's cache tag", async () => {
  await using gw = await startGateway({ env: { DENO_DEPLOY: "true" } });
  const { id, path } = await generate(gw);
  for (let i = 0; i < 2; i++) {
    const res = await gw.get(path, { key: null });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("deno-cache-id"), `sf-image-${id}`);
    assert.equal(res.headers.get("deno-cache-tag"), `img-${id}`);
    await res.body?.cancel();
  }
  // Elsewhere the headers are not sent.
  await using plain = await startGateway();
  const other = await generate(plain);
  const res = await plain.get(other.path, { key: null });
  assert.equal(res.headers.get("deno-cache-id"), null);
  assert.equal(res.headers.get("deno-cache-tag"), null);
  await res.body?.cancel();
});

Deno.test("on Deno Deploy deleting an image purges its cache tag through the CDN endpoint", async () => {
  const purges: { url: string; method: string; type: string | null; body: unknown }[] = [];
  const fetchWithCdn: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (new URL(request.url).host !== "cache.localhost") return await fetch(request);
    purges.push({
      url: request.url,
      method: request.method,
      type: request.headers.get("content-type"),
      body: await request.json(),
    });
    return new Response(null, { status: 200 });
  };
  await using gw = await startGateway({ env: { DENO_DEPLOY: "true" }, fetch: fetchWithCdn });
  const { id, path } = await generate(gw);
  assert.equal(await gw.services.images.delete(id), true);
  assert.deepEqual(purges, [{
    url: "http://cache.localhost/invalidate/http",
    method: "POST",
    type: "application/json",
    body: { tags: [`img-${id}`] },
  }]);
  assert.equal((await gw.get(path, { key: null })).status, 404);
  // Deleting what is not there purges nothing.
  assert.equal(await gw.services.images.delete(id), false);
  assert.equal(purges.length, 1);
});

Deno.test("one sweep runs at a time across instances, under a KV lease", async () => {
  using kv = await Deno.openKv(":memory:");
  const gate = Promise.withResolvers<void>();
  const now = Date.now();
  const first = underSweepLease(kv, async () => {
    await gate.promise;
    return "first";
  }, { owner: "a", now });
  await new Promise((r) => setTimeout(r, 10));
  // Another instance finds the lease held and skips.
  assert.equal(
    await underSweepLease(kv, () => Promise.resolve("second"), { owner: "b", now }),
    undefined,
  );
  gate.resolve();
  assert.equal(await first, "first");
  // Released: the next sweep runs.
  assert.equal(
    await underSweepLease(kv, () => Promise.resolve("third"), { owner: "b", now }),
    "third",
  );
  // A lease left by an instance that died is taken over once it has run out.
  await kv.set(["sweep_lease"], { owner: "dead", until: now - 1 });
  assert.equal(
    await underSweepLease(kv, () => Promise.resolve("fourth"), { owner: "c", now }),
    "fourth",
  );
  assert.equal((await kv.get(["sweep_lease"])).value, null);
});

Deno.test("at most MAX_STORAGE_STREAMS reads from storage run at once; the others wait their turn", async () => {
  const image = randomPng(150, 150); // 2 chunks
  assert.equal(Math.ceil(image.length / 64_000), 2);
  let active = 0;
  let most = 0;
  const wrap = withChunkLists((iterator) => {
    most = Math.max(most, ++active);
    const next = iterator.next.bind(iterator);
    iterator.next = async () => {
      const result = await next();
      // The stream closes after the last chunk without asking for more.
      if (!result.done && result.value.key[2] === 1) active--;
      return result;
    };
  });
  await using gw = await startGateway({
    env: { IMAGE_CACHE_MB: "0" },
    wrapKv: wrap,
    fake: { image: () => image },
  });
  const { path } = await generate(gw);
  const answers = await Promise.all(
    Array.from({ length: MAX_STORAGE_STREAMS + 8 }, () => gw.get(path, { key: null })),
  );
  const bodies = await Promise.all(answers.map((res) => bytesOf(res)));
  for (const body of bodies) assertBytes(body, image);
  assert.equal(most, MAX_STORAGE_STREAMS);
  assert.equal(active, 0);
});

Deno.test("readers that stop reading give their slots back, so they cannot starve the others", async () => {
  const image = randomPng(400, 400); // 8 chunks
  await using gw = await startGateway({
    env: { IMAGE_CACHE_MB: "0" },
    fake: { image: () => image },
  });
  const { path } = await generate(gw);
  // MAX_STORAGE_STREAMS clients that read one chunk and then nothing more.
  const stalled = await Promise.all(
    Array.from({ length: MAX_STORAGE_STREAMS }, () => gw.get(path, { key: null })),
  );
  const readers = stalled.map((res) => res.body!.getReader());
  for (const reader of readers) assert.ok((await reader.read()).value);
  const started = Date.now();
  const late = await gw.get(path, { key: null });
  assertBytes(await bytesOf(late), image);
  const waited = Date.now() - started;
  assert.ok(waited >= SLOT_IDLE_MS - 50 && waited < SLOT_IDLE_MS + 2000, `waited ${waited} ms`);
  for (const reader of readers) await reader.cancel();
});

Deno.test("a cached image deleted through another instance stops being served after REVALIDATE_MS", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const kvPath = `${dir}/gateway.kv`;
    await using a = await startGateway({ kvPath });
    await using b = await startGateway({ kvPath });
    const { id, path } = await generate(a);
    const now = Date.now();
    assert.ok(await a.services.images.cached(id, now));
    assert.equal(await b.services.images.delete(id), true);
    // Within the window the copy is served; past it, the metadata is read again.
    assert.ok(await a.services.images.cached(id, now + 1));
    assert.equal(await a.services.images.cached(id, now + REVALIDATE_MS + 1), undefined);
    assert.equal(a.services.cache.get(id), undefined);
    assert.equal((await a.get(path, { key: null })).status, 404);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a KV read that throws in the middle of /i/ ends the response and is logged once", async () => {
  const image = randomPng(400, 400);
  let reads = 0;
  const wrap = withChunkLists((iterator) => {
    const next = iterator.next.bind(iterator);
    iterator.next = () => {
      if (++reads === 2) return Promise.reject(new Error("database is locked (simulated)"));
      return next();
    };
  });
  await using gw = await startGateway({
    env: { IMAGE_CACHE_MB: "0" },
    wrapKv: wrap,
    fake: { image: () => image },
  });
  const { id, path } = await generate(gw);
  const res = await gw.get(path, { key: null });
  assert.equal(res.status, 200);
  await assert.rejects(res.arrayBuffer());
  assert.deepEqual(gw.log.errors, [`Cannot read image ${id}: database is locked (simulated) `]);
});
