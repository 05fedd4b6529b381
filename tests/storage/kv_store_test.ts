/**
 * Unit tests of the chunked image store in KV: key layout, expiry, ranged reads, crash leftovers,
 * the sweeper and deletion. Every test opens its own `:memory:` KV.
 *
 * @module
 */
import assert from "node:assert/strict";
import { getImageMeta, type ImageMeta, newImageId } from "../../lib/storage/image_meta.ts";
import {
  CHUNK_SIZE,
  deleteChunks,
  deleteImage,
  KvChunkWriter,
  putImage,
  readImage,
  readImageBytes,
} from "../../lib/storage/kv_store.ts";
import { ORPHAN_GRACE_MS, sweepImages } from "../../lib/storage/sweeper.ts";
import { JPEG, PNG } from "../../lib/storage/image_type.ts";
import { assertBytes, sha256 } from "../_support/gateway.ts";
import { concat, randomPng, tinyJpeg, tinyPng } from "../_support/images.ts";

/** Deno KV rejects values over 65,536 bytes (deno `ext/kv/config.rs`). */
const KV_MAX_VALUE_BYTES = 65_536;

async function allEntries(kv: Deno.Kv): Promise<Deno.KvEntry<unknown>[]> {
  return await Array.fromAsync(kv.list({ prefix: [] }));
}

async function allKeys(kv: Deno.Kv): Promise<Deno.KvKey[]> {
  return (await allEntries(kv)).map((entry) => entry.key);
}

function chunkKeys(id: string, count: number): Deno.KvKey[] {
  return Array.from({ length: count }, (_, i) => ["img_chunk", id, i]);
}

/** Keys sharing a first part, in KV order of their id (ids are ASCII: KV compares bytes). */
function byId(keys: Deno.KvKey[]): Deno.KvKey[] {
  const id = (key: Deno.KvKey) => String(key[1]);
  return keys.toSorted((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return concat(await Array.fromAsync(stream));
}

/** What one committed atomic operation did, in call order. */
type Mutation = ["check" | "set" | "delete", Deno.KvKey];

/**
 * Wraps a KV so every atomic operation is recorded when it commits (`commits`), plain
 * `kv.delete` calls are recorded as one-mutation commits, and `failCommit` may reject a commit
 * (returning `{ok: false}`, as a failed check does) or throw instead of committing.
 */
function recordingKv(
  kv: Deno.Kv,
  failCommit: (
    mutations: Mutation[],
    index: number,
  ) => "reject" | "throw" | "lose-reply" | undefined = () => undefined,
) {
  const commits: Mutation[][] = [];
  let attempts = 0;
  const wrapOp = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    const mutations: Mutation[] = [];
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        if (prop === "commit") {
          return async () => {
            const failure = failCommit(mutations, attempts++);
            if (failure === "reject") return { ok: false };
            if (failure === "throw") throw new Error("database is locked (simulated)");
            const result = await target.commit();
            if (result.ok) commits.push(mutations);
            if (failure === "lose-reply") throw new Error("connection reset (simulated)");
            return result;
          };
        }
        const value = Reflect.get(target, prop);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (prop === "check") {
            for (const check of args as Deno.AtomicCheck[]) mutations.push(["check", check.key]);
          } else if (prop === "set" || prop === "delete") {
            mutations.push([prop, args[0] as Deno.KvKey]);
          }
          const result = value.apply(target, args);
          return result === target ? proxy : result;
        };
      },
    });
    return proxy;
  };
  const wrapped = new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") return () => wrapOp(target.atomic());
      if (prop === "delete") {
        return async (key: Deno.KvKey) => {
          await target.delete(key);
          commits.push([["delete", key]]);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: wrapped, commits };
}

Deno.test("putImage stores meta, numbered chunks under the KV value limit, and nothing else", async () => {
  using kv = await Deno.openKv(":memory:");
  const bytes = randomPng(400, 400);
  assert.ok(bytes.length > 7 * CHUNK_SIZE, `fixture is ${bytes.length} bytes`);
  const count = Math.ceil(bytes.length / CHUNK_SIZE);
  const before = Date.now();

  const { id, meta } = await putImage(kv, bytes, { type: PNG });

  assert.equal(CHUNK_SIZE, 64_000);
  assert.match(id, /^[A-Za-z0-9_-]{16}$/);
  const expectedMeta: ImageMeta = {
    v: 1,
    type: "image/png",
    size: bytes.length,
    sha256: await sha256(bytes),
    chunks: count,
    createdAt: meta.createdAt,
    expiresAt: null,
    // From the PNG header, as the bytes went by.
    width: 400,
    height: 400,
  };
  assert.deepEqual(meta, expectedMeta);
  assert.ok(meta.createdAt >= before && meta.createdAt <= Date.now());
  assert.deepEqual(Object.keys(meta).sort(), [
    "chunks",
    "createdAt",
    "expiresAt",
    "height",
    "sha256",
    "size",
    "type",
    "v",
    "width",
  ]);

  const entries = await allEntries(kv);
  assert.deepEqual(entries.map((e) => e.key), [["img", id], ...chunkKeys(id, count)]);
  assert.deepEqual(entries[0].value, expectedMeta);
  const chunks = entries.slice(1).map((e) => e.value);
  for (const [i, chunk] of chunks.entries()) {
    assert.ok(chunk instanceof Uint8Array, `chunk ${i} is a bare Uint8Array`);
    assert.ok(chunk.length <= KV_MAX_VALUE_BYTES, `chunk ${i} is ${chunk.length} bytes`);
    assert.equal(
      chunk.length,
      i < count - 1 ? CHUNK_SIZE : bytes.length - (count - 1) * CHUNK_SIZE,
    );
  }
  assertBytes(concat(chunks as Uint8Array[]), bytes);
  assert.equal((await kv.get(["img_pending", id])).value, null);
  assert.deepEqual(await getImageMeta(kv, id), expectedMeta);
});

Deno.test("putImage commits a ~1 MB image in batches of chunks, meta last with a must-not-exist check", async () => {
  using real = await Deno.openKv(":memory:");
  const { kv, commits } = recordingKv(real);
  const bytes = randomPng(600, 600);
  const count = Math.ceil(bytes.length / CHUNK_SIZE);
  assert.ok(count > 10 && count <= 20, `fixture has ${count} chunks`);

  const { id } = await putImage(kv, bytes, { type: PNG });

  const sets = (from: number, to: number): Mutation[] =>
    chunkKeys(id, count).slice(from, to).map((key) => ["set", key]);
  assert.deepEqual(commits, [
    [["set", ["img_pending", id]], ...sets(0, 10)],
    [
      ...sets(10, count),
      ["check", ["img_pending", id]],
      ["check", ["img", id]],
      ["set", ["img", id]],
      ["delete", ["img_pending", id]],
    ],
  ]);
  assert.deepEqual(await allKeys(real), [["img", id], ...chunkKeys(id, count)]);
  const meta = await getImageMeta(real, id);
  assert.ok(meta);
  assertBytes(await readImageBytes(real, id, meta), bytes);
});

Deno.test("putImage stores only the bytes a view covers, not its whole buffer", async () => {
  using kv = await Deno.openKv(":memory:");
  const buffer = randomPng(200, 200);
  const view = buffer.subarray(1_000, 1_000 + CHUNK_SIZE + 500);
  const { id, meta } = await putImage(kv, view, { type: PNG });
  assert.equal(meta.size, CHUNK_SIZE + 500);
  assert.equal(meta.sha256, await sha256(view.slice()));
  const chunks = await Array.fromAsync(kv.list<Uint8Array>({ prefix: ["img_chunk", id] }));
  assert.deepEqual(chunks.map((c) => c.value.length), [CHUNK_SIZE, 500]);
  assertBytes(await readImageBytes(kv, id, meta), view);
});

Deno.test("putImage stores an empty image as meta with zero chunks, readable as zero bytes", async () => {
  using kv = await Deno.openKv(":memory:");
  const empty = new Uint8Array(0);
  const { id, meta } = await putImage(kv, empty, { type: PNG });
  assert.equal(meta.size, 0);
  assert.equal(meta.chunks, 0);
  assert.equal(meta.sha256, await sha256(empty));
  assert.deepEqual(await allKeys(kv), [["img", id]]);
  assertBytes(await readImageBytes(kv, id, meta), new Uint8Array(0));
});

Deno.test("putImage with ttlMs sets expiresAt = now + ttl and indexes it under img_expiry", async () => {
  using kv = await Deno.openKv(":memory:");
  const now = Date.now();
  const ttlMs = 3_600_000;
  const { id, meta } = await putImage(kv, tinyJpeg, { type: JPEG, ttlMs, now });

  assert.deepEqual(meta, {
    v: 1,
    type: "image/jpeg",
    size: tinyJpeg.length,
    sha256: await sha256(tinyJpeg),
    chunks: 1,
    createdAt: now,
    expiresAt: now + ttlMs,
    width: 64,
    height: 48,
  });
  const entries = await allEntries(kv);
  assert.deepEqual(entries.map((e) => e.key), [
    ["img", id],
    ["img_chunk", id, 0],
    ["img_expiry", now + ttlMs, id],
  ]);
  assert.equal(entries[2].value, null);

  assert.deepEqual(await getImageMeta(kv, id, now), meta);
  assert.deepEqual(await getImageMeta(kv, id, now + ttlMs - 1), meta);
  assert.equal(await getImageMeta(kv, id, now + ttlMs), null);
  assert.equal(await getImageMeta(kv, id, now + ttlMs + 1), null);
});

Deno.test("putImage with ttlMs 0 keeps the image forever", async () => {
  using kv = await Deno.openKv(":memory:");
  const { id, meta } = await putImage(kv, tinyPng, { type: PNG, ttlMs: 0, now: 1_000 });
  assert.equal(meta.expiresAt, null);
  assert.deepEqual(await allKeys(kv), [["img", id], ["img_chunk", id, 0]]);
  assert.deepEqual(await getImageMeta(kv, id, Number.MAX_SAFE_INTEGER), meta);
});

Deno.test("getImageMeta answers null for an id that was never stored", async () => {
  using kv = await Deno.openKv(":memory:");
  assert.equal(await getImageMeta(kv, newImageId()), null);
});

Deno.test("newImageId returns 16 URL-safe characters, distinct over 1000 calls", () => {
  const ids = Array.from({ length: 1000 }, () => newImageId());
  for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{16}$/);
  assert.equal(new Set(ids).size, 1000);
});

Deno.test("readImage returns exactly the requested bytes, across chunk boundaries", async () => {
  using kv = await Deno.openKv(":memory:");
  const bytes = randomPng(400, 400);
  const size = bytes.length;
  const { id, meta } = await putImage(kv, bytes, { type: PNG });

  const ranges: [number, number][] = [
    [63_990, 64_010],
    [0, 1],
    [size - 1, size],
    [0, CHUNK_SIZE],
    [CHUNK_SIZE, CHUNK_SIZE + 1],
    [CHUNK_SIZE - 1, CHUNK_SIZE],
    [10, 3 * CHUNK_SIZE + 17],
    [(meta.chunks - 1) * CHUNK_SIZE, size],
    [0, size],
  ];
  for (const [start, end] of ranges) {
    const got = await readAll(readImage(kv, id, meta, { start, end }));
    assertBytes(got, bytes.subarray(start, end), `range ${start}-${end}`);
  }
  assertBytes(await readAll(readImage(kv, id, meta)), bytes);
  assertBytes(await readImageBytes(kv, id, meta), bytes);
});

Deno.test("readImage errors instead of returning short data when a chunk is missing", async () => {
  using kv = await Deno.openKv(":memory:");
  const bytes = randomPng(400, 400);
  const { id, meta } = await putImage(kv, bytes, { type: PNG });
  await kv.delete(["img_chunk", id, 1]);

  await assert.rejects(readAll(readImage(kv, id, meta)), {
    message: `Cannot read image ${id}: chunk 1 is missing`,
  });
  await assert.rejects(readImageBytes(kv, id, meta), {
    message: `Cannot read image ${id}: chunk 1 is missing`,
  });
  await assert.rejects(readAll(readImage(kv, id, meta, { start: 63_990, end: 64_010 })), {
    message: `Cannot read image ${id}: chunk 1 is missing`,
  });
  // A range that does not touch chunk 1 is still served.
  assertBytes(
    await readAll(readImage(kv, id, meta, { start: 2 * CHUNK_SIZE, end: 2 * CHUNK_SIZE + 5 })),
    bytes.subarray(2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 5),
  );
});

Deno.test("readImage errors when the last chunk is missing", async () => {
  using kv = await Deno.openKv(":memory:");
  const bytes = randomPng(400, 400);
  const { id, meta } = await putImage(kv, bytes, { type: PNG });
  await kv.delete(["img_chunk", id, meta.chunks - 1]);

  await assert.rejects(readImageBytes(kv, id, meta), {
    message: `Cannot read image ${id}: chunk ${meta.chunks - 1} is missing`,
  });
});

Deno.test("putImage whose metadata commit is rejected leaves no visible image and the sweeper removes the rest", async () => {
  using real = await Deno.openKv(":memory:");
  const now = Date.now();
  // Chunk commits go through; the commit carrying the `.check(...)` on meta is rejected.
  const { kv } = recordingKv(
    real,
    (mutations) => mutations.some(([kind]) => kind === "check") ? "reject" : undefined,
  );
  const bytes = randomPng(600, 600);

  await assert.rejects(putImage(kv, bytes, { type: PNG, now }), {
    message: "Cannot store image metadata: commit was rejected",
  });

  // The failed write removed its chunks; only the pending marker is left for the sweeper.
  const entries = await allEntries(real);
  assert.equal(entries.length, 1);
  assert.deepEqual(entries[0].key.slice(0, 1), ["img_pending"]);
  assert.deepEqual(entries[0].value, { since: now });
  const id = entries[0].key[1] as string;
  assert.equal(await getImageMeta(real, id), null);

  assert.deepEqual(await sweepImages(real, now + ORPHAN_GRACE_MS - 1), { expired: 0, orphans: 0 });
  assert.equal((await allKeys(real)).length, 1);
  assert.deepEqual(await sweepImages(real, now + ORPHAN_GRACE_MS + 1), { expired: 0, orphans: 1 });
  assert.deepEqual(await allKeys(real), []);
});

Deno.test("putImage whose metadata commit throws leaves no visible image, only the pending marker", async () => {
  using real = await Deno.openKv(":memory:");
  const { kv } = recordingKv(
    real,
    (mutations) => mutations.some(([kind]) => kind === "check") ? "throw" : undefined,
  );
  await assert.rejects(putImage(kv, randomPng(600, 600), { type: PNG }), {
    message: "database is locked (simulated)",
  });
  const keys = await allKeys(real);
  assert.equal(keys.length, 1);
  assert.equal(keys[0][0], "img_pending");
  assert.equal(await getImageMeta(real, keys[0][1] as string), null);
});

Deno.test("putImage of an image that fits one commit writes it atomically, leaving nothing on failure", async () => {
  using real = await Deno.openKv(":memory:");
  const { kv } = recordingKv(
    real,
    (mutations) => mutations.some(([kind]) => kind === "check") ? "throw" : undefined,
  );
  await assert.rejects(putImage(kv, tinyPng, { type: PNG }), {
    message: "database is locked (simulated)",
  });
  assert.deepEqual(await allKeys(real), []);
});

Deno.test("sweepImages removes the chunks and marker of a write that crashed over 15 minutes ago", async () => {
  using kv = await Deno.openKv(":memory:");
  const now = Date.now();
  const bytes = randomPng(400, 400);
  const count = Math.ceil(bytes.length / CHUNK_SIZE);
  // Imitate a crash between the chunk commits and the metadata commit.
  const crashed = newImageId();
  const op = kv.atomic().set(["img_pending", crashed], { since: now - ORPHAN_GRACE_MS - 1 });
  for (let i = 0; i < count; i++) {
    op.set(["img_chunk", crashed, i], bytes.slice(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE));
  }
  assert.equal((await op.commit()).ok, true);
  // A write still in progress (marker younger than 15 minutes) must be left alone.
  const inProgress = newImageId();
  await kv.atomic()
    .set(["img_pending", inProgress], { since: now - ORPHAN_GRACE_MS + 60_000 })
    .set(["img_chunk", inProgress, 0], tinyPng)
    .commit();
  const kept = await putImage(kv, tinyPng, { type: PNG });
  const keptKeys = [["img", kept.id], ["img_chunk", kept.id, 0]];
  assert.equal(await getImageMeta(kv, crashed), null);

  assert.deepEqual(await sweepImages(kv, now), { expired: 0, orphans: 1 });

  assert.deepEqual(await allKeys(kv), [
    ["img", kept.id],
    ...byId([["img_chunk", kept.id, 0], ["img_chunk", inProgress, 0]]),
    ["img_pending", inProgress],
  ]);

  // Once the in-progress write is old enough, it is an orphan too.
  assert.deepEqual(await sweepImages(kv, now + ORPHAN_GRACE_MS + 60_000), {
    expired: 0,
    orphans: 1,
  });
  assert.deepEqual(await allKeys(kv), keptKeys);
});

Deno.test("sweepImages removes expired images through the index and leaves the others", async () => {
  using kv = await Deno.openKv(":memory:");
  const now = Date.now();
  const big = randomPng(400, 400);
  const expired = await putImage(kv, big, { type: PNG, ttlMs: 60_000, now: now - 120_000 });
  const permanent = await putImage(kv, tinyPng, { type: PNG, now: now - 120_000 });
  const later = await putImage(kv, tinyJpeg, { type: JPEG, ttlMs: 60_000, now });
  assert.equal(expired.meta.chunks, Math.ceil(big.length / CHUNK_SIZE));
  const remaining = [
    ...byId([["img", permanent.id], ["img", later.id]]),
    ...byId([["img_chunk", permanent.id, 0], ["img_chunk", later.id, 0]]),
  ];
  assert.deepEqual(await sweepImages(kv, now), { expired: 1, orphans: 0 });

  assert.deepEqual(await allKeys(kv), [...remaining, ["img_expiry", now + 60_000, later.id]]);
  assert.equal(await getImageMeta(kv, expired.id, 0), null);
  assert.deepEqual(await getImageMeta(kv, permanent.id, now), permanent.meta);
  assertBytes(await readImageBytes(kv, permanent.id, permanent.meta), tinyPng);

  // Nothing left to do on a second run.
  assert.deepEqual(await sweepImages(kv, now), { expired: 0, orphans: 0 });
  // The image expiring later goes once its time has come; the permanent one never does.
  assert.deepEqual(await sweepImages(kv, now + 60_000), { expired: 1, orphans: 0 });
  assert.deepEqual(await allKeys(kv), [["img", permanent.id], ["img_chunk", permanent.id, 0]]);
});

Deno.test("deleteImage removes meta first, then the chunks, then its pending marker", async () => {
  using real = await Deno.openKv(":memory:");
  const bytes = randomPng(400, 400);
  const { id, meta } = await putImage(real, bytes, { type: PNG });
  const { kv, commits } = recordingKv(real);

  await deleteImage(kv, id);

  assert.deepEqual(commits, [
    // Checked: a variant listed meanwhile would otherwise be left behind.
    [["check", ["img", id]], ["delete", ["img", id]], ["set", ["img_pending", id]]],
    chunkKeys(id, meta.chunks).map((key): Mutation => ["delete", key]),
    [["delete", ["img_pending", id]]],
  ]);
  assert.deepEqual(await allKeys(real), []);
  assert.equal(await getImageMeta(real, id), null);
});

Deno.test("deleteImage of an expiring image also removes its index entry", async () => {
  using kv = await Deno.openKv(":memory:");
  const a = await putImage(kv, tinyPng, { type: PNG, ttlMs: 60_000 });
  const b = await putImage(kv, tinyJpeg, { type: JPEG });
  await deleteImage(kv, a.id);
  assert.deepEqual(await allKeys(kv), [["img", b.id], ["img_chunk", b.id, 0]]);
  await deleteImage(kv, b.id);
  assert.deepEqual(await allKeys(kv), []);
});

Deno.test("deleteImage interrupted after removing meta leaves a marker the sweeper finishes", async () => {
  using real = await Deno.openKv(":memory:");
  const bytes = randomPng(400, 400);
  const { id } = await putImage(real, bytes, { type: PNG });
  // The first commit (meta) succeeds; the chunk deletion fails.
  const { kv } = recordingKv(real, (_mutations, index) => index === 0 ? undefined : "throw");

  await assert.rejects(deleteImage(kv, id), { message: "database is locked (simulated)" });

  assert.equal(await getImageMeta(real, id), null);
  const keys = await allKeys(real);
  assert.deepEqual(keys.at(-1), ["img_pending", id]);
  assert.ok(keys.length > 1, "chunks are still there");
  assert.deepEqual(await sweepImages(real), { expired: 0, orphans: 1 });
  assert.deepEqual(await allKeys(real), []);
});

Deno.test("putImage keeps an image whose last commit was applied although it reported an error", async () => {
  using real = await Deno.openKv(":memory:");
  // A remote KV that applies the commit but loses the reply looks like a commit that throws.
  const { kv } = recordingKv(
    real,
    (mutations) => mutations.some(([kind]) => kind === "check") ? "lose-reply" : undefined,
  );
  const bytes = randomPng(600, 600);
  const { id, meta } = await putImage(kv, bytes, { type: PNG });
  assert.deepEqual(await getImageMeta(real, id), meta);
  assertBytes(await readImageBytes(real, id, meta), bytes);
});

Deno.test("a write slower than the sweeper's grace is refused at its end, never a broken image", async () => {
  using kv = await Deno.openKv(":memory:");
  const bytes = randomPng(600, 600);
  const writer = new KvChunkWriter(kv, { now: Date.now() });
  // Enough for the first batch to commit with its pending marker.
  await writer.write(bytes.subarray(0, 11 * CHUNK_SIZE));
  // The sweeper, much later, takes the write for an orphan.
  assert.deepEqual(await sweepImages(kv, Date.now() + ORPHAN_GRACE_MS + 1), {
    expired: 0,
    orphans: 1,
  });
  await writer.write(bytes.subarray(11 * CHUNK_SIZE));
  await assert.rejects(writer.close({ type: PNG, sha256: await sha256(bytes) }), {
    message: "Cannot store image metadata: commit was rejected",
  });
  assert.equal(await getImageMeta(kv, writer.id), null);
  assert.deepEqual(await allKeys(kv), []);
});

Deno.test("sweepImages goes on past an entry it cannot remove and reports it", async () => {
  using kv = await Deno.openKv(":memory:");
  const now = Date.now();
  const a = await putImage(kv, tinyPng, { type: PNG, ttlMs: 1000, now: now - 5000 });
  const b = await putImage(kv, tinyJpeg, { type: JPEG, ttlMs: 1000, now: now - 5000 });
  const failed: string[] = [];
  const result = await sweepImages(kv, now, async (id, _kind, meta) => {
    if (id === a.id) throw new Error("store unreachable (simulated)");
    await deleteChunks(kv, id, meta?.chunks);
  }, (id, err) => failed.push(`${id}: ${(err as Error).message}`));
  assert.deepEqual(result, { expired: 1, orphans: 0 });
  // Tried through its expiry entry, then through the deletion marker that attempt left.
  assert.deepEqual(failed, [
    `${a.id}: store unreachable (simulated)`,
    `${a.id}: store unreachable (simulated)`,
  ]);
  assert.equal(await getImageMeta(kv, b.id, 0), null);
  // Its metadata and index entry went with the first attempt; its marker brings the next sweep
  // back to its chunks.
  assert.deepEqual(await sweepImages(kv, now), { expired: 0, orphans: 1 });
  assert.deepEqual(await allKeys(kv), []);
});
