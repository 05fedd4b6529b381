/**
 * Per-client limits, counted in KV: images per minute, generations in flight, across two
 * instances on one KV, per bearer token in pass-through mode, and leases of dead instances.
 *
 * @module
 */
import assert from "node:assert/strict";
import { clientId, ClientLimits } from "../../lib/storage/client_limits.ts";
import { assertOpenAIError, GATEWAY_KEY, startGateway } from "../_support/gateway.ts";

const GENERATIONS = "/v1/images/generations";

Deno.test("CLIENT_IMAGES_PER_MINUTE refuses the request that would pass it, before any upstream call", async () => {
  // The window is the clock's minute: start well inside one (waits 2 s at most).
  const toNextMinute = 60_000 - (Date.now() % 60_000);
  if (toNextMinute < 2000) await new Promise((r) => setTimeout(r, toNextMinute + 10));
  await using gw = await startGateway({ env: { CLIENT_IMAGES_PER_MINUTE: "3" } });
  const first = await gw.post(GENERATIONS, { prompt: "x", n: 2 });
  assert.equal(first.status, 200);
  await first.body?.cancel();
  const second = await gw.post(GENERATIONS, { prompt: "x", n: 2 });
  const retryAfter = Number(second.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
  await assertOpenAIError(second, 429, {
    type: "rate_limit_error",
    code: "client_rate_limit_exceeded",
    message:
      /^This client asked for 2 images this minute and this gateway allows 3 \(CLIENT_IMAGES_PER_MINUTE\); 2 more would pass it$/,
  });
  assert.equal(gw.fake.generationCalls.length, 1); // Kolors: one call for n = 2
  // One more image still fits.
  const third = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(third.status, 200);
  await third.body?.cancel();
  // One ticket per admitted request, under a hash of the key, never the key; the refused
  // request left none.
  const tickets = await Array.fromAsync(gw.kv.list<number>({ prefix: ["client_images"] }));
  assert.deepEqual(tickets.map((e) => [e.key[1], e.value]).sort(), [
    [clientId(GATEWAY_KEY), 1],
    [clientId(GATEWAY_KEY), 2],
  ]);
});

Deno.test("CLIENT_MAX_CONCURRENT holds across two instances on one KV, and frees on completion", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const kvPath = `${dir}/gateway.kv`;
    const env = { CLIENT_MAX_CONCURRENT: "1" };
    await using a = await startGateway({ kvPath, env, fake: { delayMs: 300 } });
    await using b = await startGateway({ kvPath, env, sharedFake: a.fake });
    const slow = a.post(GENERATIONS, { prompt: "x" });
    await new Promise((r) => setTimeout(r, 100));
    const refused = await b.post(GENERATIONS, { prompt: "x" });
    await assertOpenAIError(refused, 429, {
      code: "client_concurrency_limit_exceeded",
      message:
        /has 1 generations in flight, as many as this gateway allows \(CLIENT_MAX_CONCURRENT\)/,
    });
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    const done = await slow;
    assert.equal(done.status, 200);
    await done.body?.cancel();
    // The slot was given back: the next request on the other instance goes through.
    const after = await b.post(GENERATIONS, { prompt: "x" });
    assert.equal(after.status, 200);
    await after.body?.cancel();
    assert.deepEqual(await Array.fromAsync(a.kv.list({ prefix: ["client_slot"] })), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("in pass-through mode each bearer token is a client of its own", async () => {
  await using gw = await startGateway({
    env: {
      SILICONFLOW_API_KEYS: undefined,
      GATEWAY_API_KEYS: undefined,
      CLIENT_IMAGES_PER_MINUTE: "1",
    },
    fake: { keys: ["sk-alice-000000000000", "sk-bob-00000000000000"] },
  });
  for (const key of ["sk-alice-000000000000", "sk-bob-00000000000000"]) {
    const res = await gw.post(GENERATIONS, { prompt: "x" }, { key });
    assert.equal(res.status, 200, key);
    await res.body?.cancel();
  }
  const again = await gw.post(GENERATIONS, { prompt: "x" }, { key: "sk-alice-000000000000" });
  await assertOpenAIError(again, 429, { code: "client_rate_limit_exceeded" });
  const stored = JSON.stringify(await Array.fromAsync(gw.kv.list({ prefix: ["client_images"] })));
  assert.doesNotMatch(stored, /sk-alice|sk-bob/);
});

Deno.test("a slot held by an instance that died frees itself when its lease runs out", async () => {
  using kv = await Deno.openKv(":memory:");
  let now = 1_800_000_000_000;
  const limits = new ClientLimits(
    kv,
    { maxConcurrent: 1, imagesPerMinute: 0, leaseMs: 60_000, renewEveryMs: 0 },
    () => now,
  );
  await limits.admit("c", 1); // never released: its instance died
  await assert.rejects(limits.admit("c", 1), { status: 429 });
  now += 60_001;
  const admission = await limits.admit("c", 1);
  await admission.release();
  await admission.release(); // twice is harmless
  assert.deepEqual(await Array.fromAsync(kv.list({ prefix: [] })), []);
});

Deno.test("a request refused for concurrency does not use up the minute's images; an impossible one is a 400", async () => {
  using kv = await Deno.openKv(":memory:");
  const limits = new ClientLimits(kv, { maxConcurrent: 1, imagesPerMinute: 3, leaseMs: 60_000 });
  const held = await limits.admit("c", 1);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(limits.admit("c", 1), { code: "client_concurrency_limit_exceeded" });
  }
  await held.release();
  const next = await limits.admit("c", 2); // 1 + 2 = 3: still within the minute's three
  await next.release();
  await assert.rejects(limits.admit("c", 4), { status: 400, code: "too_many_images", param: "n" });
});

Deno.test("a running generation renews its slot's lease, so the lease can be short", async () => {
  using kv = await Deno.openKv(":memory:");
  const limits = new ClientLimits(kv, {
    maxConcurrent: 1,
    imagesPerMinute: 0,
    leaseMs: 200,
    renewEveryMs: 50,
  });
  const held = await limits.admit("c", 1);
  // Three lease lengths later the slot is still held: it was renewed meanwhile.
  await new Promise((r) => setTimeout(r, 600));
  await assert.rejects(limits.admit("c", 1), { code: "client_concurrency_limit_exceeded" });
  await held.release();
  const next = await limits.admit("c", 1);
  await next.release();
});
