/**
 * Per-client limits under bursts: many requests from one client at once, through two instances
 * sharing one KV file, must be admitted exactly up to the limit, with the limit's own 429 for
 * the rest; and the limits are off (no KV at all) unless configured.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type Admission,
  ClientLimits,
  type LimitSettings,
} from "../../lib/storage/client_limits.ts";
import { loadConfig } from "../../lib/config/config.ts";
import type { GatewayError } from "../../lib/errors.ts";
import { assertOpenAIError, startGateway } from "../_support/gateway.ts";

const GENERATIONS = "/v1/images/generations";
/** Half a minute into a clock minute, so a burst never straddles two. */
const MID_MINUTE = 1_800_000_030_000;

interface Burst {
  admitted: Admission[];
  refused: GatewayError[];
}

/**
 * Runs `body` with two `ClientLimits` on one KV file (each its own `Deno.openKv`, as two
 * processes would have), on a fixed clock; removes the file after.
 */
async function withTwoInstances(
  settings: Partial<LimitSettings>,
  body: (instances: ClientLimits[], kv: Deno.Kv) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const kvs: Deno.Kv[] = [];
  try {
    for (let i = 0; i < 2; i++) kvs.push(await Deno.openKv(`${dir}/gateway.kv`));
    const full = { maxConcurrent: 0, imagesPerMinute: 0, leaseMs: 60_000, ...settings };
    // No renewal timers: a test's admissions live well under a lease.
    const instances = kvs.map((kv) =>
      new ClientLimits(kv, { ...full, renewEveryMs: 0 }, () => MID_MINUTE)
    );
    await body(instances, kvs[0]);
  } finally {
    for (const kv of kvs) kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** `count` admissions for one client started at once, alternating between the instances. */
async function burst(instances: ClientLimits[], count: number, images = 1): Promise<Burst> {
  const settled = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => instances[i % instances.length].admit("c", images)),
  );
  const admitted: Admission[] = [];
  const refused: GatewayError[] = [];
  for (const result of settled) {
    if (result.status === "fulfilled") admitted.push(result.value);
    else refused.push(result.reason);
  }
  return { admitted, refused };
}

/** Each refusal's status, code and Retry-After, with its count. */
function tally(refused: GatewayError[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const err of refused) {
    const key = `${err.status} ${err.code} retry-after=${err.headers?.["retry-after"]}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

Deno.test("a burst of 20 over two instances with CLIENT_MAX_CONCURRENT=5 runs exactly 5 and gives 15 the limit's own 429", async () => {
  await withTwoInstances({ maxConcurrent: 5 }, async (instances, kv) => {
    const { admitted, refused } = await burst(instances, 20);
    assert.equal(admitted.length, 5);
    assert.deepEqual(tally(refused), {
      "429 client_concurrency_limit_exceeded retry-after=60": 15,
    });
    for (const err of refused) {
      assert.equal(
        err.message,
        "This client has 5 generations in flight, as many as this gateway allows " +
          "(CLIENT_MAX_CONCURRENT); wait for one to finish",
      );
    }
    const slots = await Array.fromAsync(kv.list({ prefix: ["client_slot", "c"] }));
    assert.deepEqual(slots.map((e) => e.key[2]).sort(), [0, 1, 2, 3, 4]);
    // Releasing one frees one: the next request, on either instance, takes its slot.
    await admitted.pop()!.release();
    admitted.push(await instances[1].admit("c", 1));
    await assert.rejects(instances[0].admit("c", 1), { code: "client_concurrency_limit_exceeded" });
    for (const admission of admitted) await admission.release();
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: [] })), []);
  });
});

Deno.test("a burst of 20 over two instances with CLIENT_MAX_CONCURRENT=1000 admits all 20, none lost to a race for one slot", async () => {
  await withTwoInstances({ maxConcurrent: 1000 }, async (instances, kv) => {
    const { admitted, refused } = await burst(instances, 20);
    assert.deepEqual(tally(refused), {});
    assert.equal(admitted.length, 20);
    const slots = await Array.fromAsync(kv.list({ prefix: ["client_slot", "c"] }));
    assert.equal(new Set(slots.map((e) => e.key[2])).size, 20);
    for (const admission of admitted) await admission.release();
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: [] })), []);
  });
});

Deno.test("a burst of 20 one-image requests over two instances with CLIENT_IMAGES_PER_MINUTE=10 admits exactly 10", async () => {
  await withTwoInstances({ imagesPerMinute: 10 }, async (instances, kv) => {
    const { admitted, refused } = await burst(instances, 20);
    assert.equal(admitted.length, 10);
    // Half a minute is left of the clock minute.
    assert.deepEqual(tally(refused), { "429 client_rate_limit_exceeded retry-after=30": 10 });
    for (const err of refused) {
      assert.match(
        err.message,
        /^This client asked for 10 images this minute and this gateway allows 10 \(CLIENT_IMAGES_PER_MINUTE\); 1 more would pass it$/,
      );
    }
    // One ticket per admitted request; refused ones were deleted.
    const tickets = await Array.fromAsync(kv.list<number>({ prefix: ["client_images", "c"] }));
    assert.deepEqual(tickets.map((e) => e.value), Array(10).fill(1));
    for (const admission of admitted) await admission.release();
  });
});

Deno.test("a burst of 3-image requests with CLIENT_IMAGES_PER_MINUTE=10 admits 3 of them (9 images): none is split", async () => {
  await withTwoInstances({ imagesPerMinute: 10 }, async (instances, kv) => {
    const { admitted, refused } = await burst(instances, 20, 3);
    assert.equal(admitted.length, 3);
    assert.deepEqual(tally(refused), { "429 client_rate_limit_exceeded retry-after=30": 17 });
    // The minute's last image still fits a one-image request, and then nothing does.
    await instances[0].admit("c", 1);
    await assert.rejects(instances[1].admit("c", 1), { code: "client_rate_limit_exceeded" });
    const tickets = await Array.fromAsync(kv.list<number>({ prefix: ["client_images", "c"] }));
    assert.deepEqual(tickets.map((e) => e.value).sort(), [1, 3, 3, 3]);
  });
});

Deno.test("with both limits, a burst is held to the slots first and the images after", async () => {
  await withTwoInstances({ maxConcurrent: 4, imagesPerMinute: 6 }, async (instances, kv) => {
    const first = await burst(instances, 12);
    assert.equal(first.admitted.length, 4);
    assert.deepEqual(tally(first.refused), {
      "429 client_concurrency_limit_exceeded retry-after=60": 8,
    });
    for (const admission of first.admitted) await admission.release();
    // 2 images are left this minute: the next burst gets exactly 2. The requests refused for
    // images give their slots back at once, so how many of the others then find a slot (and are
    // refused for images too) depends on timing; at least the two beside the admitted ones are.
    const second = await burst(instances, 12);
    assert.equal(second.admitted.length, 2);
    const refusals = tally(second.refused);
    const forImages = refusals["429 client_rate_limit_exceeded retry-after=30"];
    assert.ok(forImages >= 2, JSON.stringify(refusals));
    // Every refusal is one of the two; all ten may be for images, when slots freed in time.
    const expected: Record<string, number> = {
      "429 client_rate_limit_exceeded retry-after=30": forImages,
    };
    if (forImages < 10) {
      expected["429 client_concurrency_limit_exceeded retry-after=60"] = 10 - forImages;
    }
    assert.deepEqual(refusals, expected);
    for (const admission of second.admitted) await admission.release();
    assert.deepEqual(await Array.fromAsync(kv.list({ prefix: ["client_slot"] })), []);
  });
});

Deno.test("a request that cannot fit the minute is turned away before it writes a ticket", async () => {
  using kv = await Deno.openKv(":memory:");
  let sets = 0;
  // Counts the writes of tickets; everything else goes to the real store.
  const counting = new Proxy(kv, {
    get(target, name) {
      if (name === "set") {
        return (...args: Parameters<Deno.Kv["set"]>) => (sets++, target.set(...args));
      }
      const value = Reflect.get(target, name);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const limits = new ClientLimits(counting, {
    maxConcurrent: 0,
    imagesPerMinute: 2,
    leaseMs: 60_000,
  }, () => MID_MINUTE);
  await limits.admit("c", 2);
  assert.equal(sets, 1);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(limits.admit("c", 1), { code: "client_rate_limit_exceeded" });
  }
  assert.equal(sets, 1);
});

Deno.test("a minute flooded with undecided tickets turns requests away without reading past its cap", async () => {
  using kv = await Deno.openKv(":memory:");
  const minute = Math.floor(MID_MINUTE / 60_000);
  // Tickets of requests that never decided (their instances died): 1,000 beyond the limit's 1.
  for (let start = 0; start < 1001; start += 500) {
    const op = kv.atomic();
    for (let i = start; i < Math.min(start + 500, 1001); i++) {
      op.set(["client_images", "c", minute, `dead-${i}`], 0);
    }
    await op.commit();
  }
  const limits = new ClientLimits(
    kv,
    { maxConcurrent: 0, imagesPerMinute: 1, leaseMs: 60_000 },
    () => MID_MINUTE,
  );
  await assert.rejects(limits.admit("c", 1), {
    status: 429,
    code: "client_rate_limit_exceeded",
    message: "Too many requests at once from this client; try again",
  });
  // The next minute starts clean.
  const next = new ClientLimits(
    kv,
    { maxConcurrent: 0, imagesPerMinute: 1, leaseMs: 60_000 },
    () => MID_MINUTE + 60_000,
  );
  await next.admit("c", 1);
});

Deno.test("both limits are off by default, and a generation then writes nothing to KV for them", async () => {
  const config = loadConfig({
    SILICONFLOW_API_KEYS: "sk-pool-a",
    GATEWAY_API_KEYS: "gw-client-a-0123456789",
  });
  assert.equal(config.clientMaxConcurrent, 0);
  assert.equal(config.clientImagesPerMinute, 0);
  await using gw = await startGateway({
    env: { CLIENT_MAX_CONCURRENT: undefined, CLIENT_IMAGES_PER_MINUTE: undefined },
  });
  const res = await gw.post(GENERATIONS, { prompt: "x", n: 2 });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const keys = await Array.fromAsync(gw.kv.list({ prefix: [] }));
  assert.deepEqual(keys.filter((e) => /^client_/.test(String(e.key[0]))), []);
  assert.ok(keys.length > 0, "the generation stored its image");
});

Deno.test("20 simultaneous generations with CLIENT_MAX_CONCURRENT=5 answer exactly 5 × 200 and 15 × 429", async () => {
  await using gw = await startGateway({
    env: { CLIENT_MAX_CONCURRENT: "5" },
    fake: { delayMs: 300 },
  });
  const responses = await Promise.all(
    Array.from({ length: 20 }, () => gw.post(GENERATIONS, { prompt: "x" })),
  );
  const ok = responses.filter((res) => res.status === 200);
  const refused = responses.filter((res) => res.status !== 200);
  assert.equal(ok.length, 5);
  assert.equal(refused.length, 15);
  for (const res of ok) await res.body?.cancel();
  for (const res of refused) {
    assert.equal(res.headers.get("retry-after"), "60");
    await assertOpenAIError(res, 429, {
      type: "rate_limit_error",
      code: "client_concurrency_limit_exceeded",
      message:
        "This client has 5 generations in flight, as many as this gateway allows (CLIENT_MAX_CONCURRENT); wait for one to finish",
    });
  }
  assert.equal(gw.fake.generationCalls.length, 5);
  // Every slot is given back once its work is done (within 2 s).
  let slots: Deno.KvEntry<unknown>[] = [];
  for (let i = 0; i < 100; i++) {
    slots = await Array.fromAsync(gw.kv.list({ prefix: ["client_slot"] }));
    if (slots.length === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(slots, []);
});
