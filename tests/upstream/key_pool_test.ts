/**
 * The key pool and retries, on a fake clock (no test sleeps): keys retired, resting for every
 * model or for one, `Retry-After` read and clamped, every key resting answered as a 429, and
 * retries only of what cannot have been billed, within the count and the time budget.
 *
 * @module
 */
import assert from "node:assert/strict";
import { KeyPool } from "../../lib/upstream/key_pool.ts";
import { type Clock, DEFAULT_RETRY_POLICY, withRetries } from "../../lib/upstream/retry.ts";
import { parseRetryAfter, SiliconFlowError } from "../../lib/upstream/siliconflow.ts";

/** A clock whose sleeps only move its time forward; jitter fixed at its middle. */
function fakeClock(start = 1_800_000_000_000) {
  const clock = {
    t: start,
    slept: [] as number[],
    now: () => clock.t,
    sleep: (ms: number) => {
      clock.slept.push(ms);
      clock.t += ms;
      return Promise.resolve();
    },
    random: () => 0.5,
  };
  return clock satisfies Clock;
}

const err = (status: number, extra: ConstructorParameters<typeof SiliconFlowError>[2] = {}) =>
  new SiliconFlowError(status, `failed with ${status}`, extra);

/** A call that fails as `script` says for each key in turn (`ok` succeeds), recording keys used. */
function scripted(script: Record<string, (SiliconFlowError | "ok")[]>) {
  const used: string[] = [];
  const call = (key: string) => {
    used.push(key);
    const next = script[key]?.shift() ?? "ok";
    return next === "ok" ? Promise.resolve(key) : Promise.reject(next);
  };
  return { call, used };
}

Deno.test("a 401 retires the key for every model; the pool's health shows it, never a key", async () => {
  const clock = fakeClock();
  const asides: string[] = [];
  const pool = new KeyPool(["sk-a", "sk-b"], {
    clock,
    onSetAside: (i, what) => asides.push(`#${i + 1} ${what}`),
  });
  const { call, used } = scripted({ "sk-a": [err(401)] });
  assert.equal(await pool.run("m1", call), "sk-b");
  clock.t += 24 * 3600_000;
  assert.equal(await pool.run("m2", call), "sk-b");
  assert.equal(await pool.run("m2", call), "sk-b");
  assert.deepEqual(used, ["sk-a", "sk-b", "sk-b", "sk-b"]);
  assert.deepEqual(asides, ["#1 retired for every model: HTTP 401"]);
  assert.deepEqual(pool.health(), { keys: 2, healthy: 1, resting: 0, retired: 1 });
  assert.doesNotMatch(JSON.stringify(pool.health()), /sk-/);
});

Deno.test("a key out of balance rests for every model for an hour, then comes back", async () => {
  const clock = fakeClock();
  const pool = new KeyPool(["sk-a", "sk-b"], { clock });
  const { call, used } = scripted({ "sk-a": [err(403, { code: 30001 })] });
  await pool.run("m1", call);
  assert.deepEqual(pool.health(), { keys: 2, healthy: 1, resting: 1, retired: 0 });
  await pool.run("m2", call); // sk-b (rotation would have given sk-a)
  clock.t += 60 * 60_000;
  await pool.run("m2", call);
  assert.deepEqual(used, ["sk-a", "sk-b", "sk-b", "sk-a"]);
  assert.deepEqual(pool.health(), { keys: 2, healthy: 2, resting: 0, retired: 0 });
});

Deno.test("a 429 rests the key for that model only, as long as Retry-After says", async () => {
  const clock = fakeClock();
  const pool = new KeyPool(["sk-a", "sk-b"], { clock });
  const { call, used } = scripted({ "sk-a": [err(429, { retryAfterSeconds: 30 })] });
  await pool.run("m1", call); // sk-a 429, then sk-b
  await pool.run("m2", call); // rotation: sk-b
  await pool.run("m2", call); // rotation: sk-a, fine for m2
  await pool.run("m1", call); // rotation: sk-b
  await pool.run("m1", call); // rotation: sk-a, still resting for m1: sk-b
  clock.t += 30_000;
  await pool.run("m1", call); // rotation: sk-b
  await pool.run("m1", call); // rotation: sk-a, rested
  assert.deepEqual(used, ["sk-a", "sk-b", "sk-b", "sk-a", "sk-b", "sk-b", "sk-b", "sk-a"]);
});

Deno.test("Retry-After is read as seconds or an HTTP date and clamped to 1 s – 10 min", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  assert.equal(parseRetryAfter("7", now), 7);
  assert.equal(parseRetryAfter("0", now), 1);
  assert.equal(parseRetryAfter("31536000", now), 600);
  assert.equal(parseRetryAfter("Tue, 01 Dec 2026 12:00:42 GMT", now), 42);
  assert.equal(parseRetryAfter("Wed, 01 Dec 2027 12:00:00 GMT", now), 600);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

Deno.test("every key resting is a 429 with the wait until the first is back, as SiliconFlow worded it", async () => {
  const clock = fakeClock();
  const pool = new KeyPool(["sk-a", "sk-b"], { clock });
  const limit = (s: number) =>
    new SiliconFlowError(429, "IPM limit reached.", { code: 50603, retryAfterSeconds: s });
  const { call, used } = scripted({ "sk-a": [limit(120)], "sk-b": [limit(90)] });
  const failure = await pool.run("m", call).then(() => undefined, (e) => e);
  assert.ok(failure instanceof SiliconFlowError);
  assert.equal(failure.status, 429);
  assert.equal(failure.detail, "IPM limit reached.");
  assert.equal(failure.code, 50603);
  assert.equal(failure.retryAfterSeconds, 90);
  // Waiting 90 s would pass the 15 s budget: no sleep, two calls.
  assert.deepEqual(clock.slept, []);
  assert.deepEqual(used, ["sk-a", "sk-b"]);
  assert.deepEqual(pool.health(), { keys: 2, healthy: 0, resting: 2, retired: 0 });
});

Deno.test("a 503 'overloaded' is retried after a back-off on another key, three attempts at most", async () => {
  const clock = fakeClock();
  const pool = new KeyPool(["sk-a", "sk-b"], { clock });
  const overloaded = () => err(503, { code: 50505 });
  const burst = scripted({ "sk-a": [overloaded()], "sk-b": [overloaded()] });
  assert.ok(await pool.run("m", burst.call));
  // Overloaded is no fault of the key: a jittered back-off (500 ms × 2^n × 1.0) before each try.
  assert.deepEqual(burst.used, ["sk-a", "sk-b", "sk-a"]);
  assert.deepEqual(clock.slept, [500, 1000]);

  const always = scripted({
    "sk-a": [overloaded(), overloaded()],
    "sk-b": [overloaded(), overloaded()],
  });
  await assert.rejects(pool.run("m", always.call), (e: SiliconFlowError) => e.status === 503);
  assert.equal(always.used.length, DEFAULT_RETRY_POLICY.retries + 1);
});

Deno.test("what may already have been billed is never retried: timeouts, cut-off and odd replies", async () => {
  for (
    const failure of [
      err(0, { timedOut: true }),
      err(200), // "the reply was cut off" / "not JSON": SiliconFlow answered 2xx
      err(504),
      err(0), // a connection that broke after the request went out
      err(503), // a 503 without SiliconFlow's "overloaded" code
      err(400, { code: 20015 }),
    ]
  ) {
    const clock = fakeClock();
    const pool = new KeyPool(["sk-a", "sk-b"], { clock });
    const { call, used } = scripted({ "sk-a": [failure], "sk-b": [failure] });
    await assert.rejects(pool.run("m", call), (e) => e === failure);
    assert.deepEqual(used, ["sk-a"], `${failure.status} ${failure.timedOut}`);
    assert.deepEqual(clock.slept, []);
  }
});

Deno.test("a connection that never opened is retried; UPSTREAM_RETRIES=0 turns retrying off", async () => {
  const refused = () => err(0, { connectFailed: true });
  const clock = fakeClock();
  const once = scripted({ "sk-a": [refused(), refused()] });
  assert.equal(await withRetries(() => once.call("sk-a"), DEFAULT_RETRY_POLICY, clock), "sk-a");
  assert.deepEqual(clock.slept, [500, 1000]);
  const off = scripted({ "sk-a": [refused()] });
  await assert.rejects(
    withRetries(() => off.call("sk-a"), { ...DEFAULT_RETRY_POLICY, retries: 0 }, clock),
  );
  assert.deepEqual(off.used, ["sk-a"]);
});

Deno.test("retries stop at the time budget, whatever attempts are left", async () => {
  const clock = fakeClock();
  const limited = scripted({
    "sk-a": [err(429, { retryAfterSeconds: 10 }), err(429, { retryAfterSeconds: 10 })],
  });
  await assert.rejects(
    withRetries(() => limited.call("sk-a"), DEFAULT_RETRY_POLICY, clock),
    (e: SiliconFlowError) => e.status === 429,
  );
  // 10 s waited once; a second 10 s wait would pass the 15 s budget.
  assert.deepEqual(clock.slept, [10_000]);
  assert.deepEqual(limited.used, ["sk-a", "sk-a"]);
});

Deno.test("a request that finds every key resting for a moment waits for the first one back", async () => {
  const clock = fakeClock();
  const pool = new KeyPool(["sk-a"], { clock });
  const first = scripted({ "sk-a": [err(429, { retryAfterSeconds: 1 })] });
  assert.equal(await pool.run("m", first.call), "sk-a"); // waits out its own 429
  assert.deepEqual(clock.slept, [1000]);
  // Another request while the key rests again: it waits too, rather than failing at once.
  const again = scripted({ "sk-a": [err(429, { retryAfterSeconds: 2 })] });
  await pool.run("m", again.call);
  const meanwhile = scripted({});
  clock.t -= 1500; // back to when the key still rests for 1.5 s
  assert.equal(await pool.run("m", meanwhile.call), "sk-a");
  assert.ok(clock.slept.at(-1)! >= 1500);
});

Deno.test("a 429 fails over to a ready key even with retrying off; every key out of balance is a 402", async () => {
  const clock = fakeClock();
  const pool = new KeyPool(["sk-a", "sk-b"], {
    clock,
    retry: { ...DEFAULT_RETRY_POLICY, retries: 0 },
  });
  const limited = scripted({ "sk-a": [err(429, { retryAfterSeconds: 5 })] });
  assert.equal(await pool.run("m", limited.call), "sk-b");
  const broke = new KeyPool(["sk-a", "sk-b"], { clock });
  const empty = scripted({ "sk-a": [err(402)], "sk-b": [err(402)] });
  await assert.rejects(broke.run("m", empty.call), (e: SiliconFlowError) => e.status === 402);
  // Later requests are told the same, not a 429.
  await assert.rejects(
    broke.run("m", empty.call),
    (e: SiliconFlowError) => e.status === 402 && e.code === 30001,
  );
});
