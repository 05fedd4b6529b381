/**
 * The conversion pool: jobs run in workers and come back whole; past workers + queue a 503 with
 * `Retry-After`; a bomb refused by its header before any worker starts; one conversion per
 * worker; a crashed or hung worker replaced while its job fails cleanly; the main thread responsive while conversions run; and the
 * codecs loading under the gateway's own permissions in a child process.
 *
 * @module
 */
import assert from "node:assert/strict";
import { errorResponse, GatewayError, ServerBusyError } from "../../lib/errors.ts";
import { imageHeader } from "../../lib/image_header.ts";
import { ConversionPool, type ConversionPoolOptions } from "../../lib/variants/worker_pool.ts";
import { assertOpenAIError } from "../_support/gateway.ts";
import { gradientPng } from "../_support/gradient.ts";

const CRASH_WORKER = new URL("../_support/crash_worker.ts", import.meta.url).href;
const ROOT = new URL("../../", import.meta.url).pathname;

function pool(options: Partial<ConversionPoolOptions> = {}): ConversionPool & Disposable {
  const made = new ConversionPool({
    workers: 2,
    queue: 2,
    maxPixels: 40e6,
    timeoutMs: 30_000,
    ...options,
  });
  return Object.assign(made, { [Symbol.dispose]: () => made.dispose() });
}

Deno.test("the pool runs jobs in workers and answers each with its own output", async () => {
  using conversions = pool();
  const png = await gradientPng(320, 240);
  const widths = [64, 128, 256, 320];
  const outs = await Promise.all(
    widths.map((width) => conversions.convert(png.slice(), { format: "webp", width, quality: 80 })),
  );
  assert.deepEqual(
    outs.map((out) => imageHeader(new Uint8Array(out.bytes))),
    widths.map((width) => ({ type: "webp", width, height: (width * 3) / 4 })),
  );
  assert.deepEqual(conversions.load, { workers: 0, running: 0, queued: 0 });
});

Deno.test("the input's buffer is transferred to the worker, not copied", async () => {
  using conversions = pool();
  const png = await gradientPng(64, 64);
  const done = conversions.convert(png, { format: "png", quality: 100 });
  assert.equal(png.buffer.byteLength, 0, "the buffer is detached: it moved to the worker");
  assert.equal((await done).width, 64);
});

Deno.test("past its workers and queue the pool answers 503 with Retry-After", async () => {
  using conversions = pool({ workers: 2, queue: 2 });
  const png = await gradientPng(512, 512);
  const accepted = conversions.size + 2;
  const jobs = Array.from(
    { length: accepted },
    () => conversions.convert(png.slice(), { format: "avif", quality: 60 }),
  );
  assert.deepEqual(conversions.load, {
    workers: conversions.size,
    running: conversions.size,
    queued: 2,
  });
  const refused = conversions.convert(png.slice(), { format: "webp", quality: 80 });
  await assert.rejects(refused, ServerBusyError);
  const res = errorResponse(await refused.catch((err) => err));
  assert.equal(res.headers.get("retry-after"), "1");
  await assertOpenAIError(res, 503, { code: "server_busy", type: "server_error" });
  assert.equal((await Promise.all(jobs)).length, accepted);
});

Deno.test("a 1 KB PNG claiming 100000x100000 is refused with a 422 before any worker starts", async () => {
  using conversions = pool();
  const bomb = new Uint8Array(1024);
  bomb.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(bomb.buffer).setUint32(16, 100_000);
  new DataView(bomb.buffer).setUint32(20, 100_000);
  const refused = await conversions.convert(bomb, { format: "webp", quality: 80 }).catch((e) => e);
  await assertOpenAIError(errorResponse(refused), 422, {
    code: "image_too_large",
    param: "image",
    type: "invalid_request_error",
  });
  assert.equal(bomb.buffer.byteLength, 1024, "the bytes never left for a worker");
  assert.deepEqual(conversions.load, { workers: 0, running: 0, queued: 0 });
});

Deno.test("a worker that crashes fails its job with a 500 and is replaced", async () => {
  using conversions = pool({ workers: 1, workerUrl: CRASH_WORKER });
  const png = await gradientPng(64, 48);
  const waiting = conversions.convert(png.slice(), { format: "webp", width: 32, quality: 80 });
  const crashed = await conversions.convert(png.slice(), { format: "webp", quality: 13 })
    .catch((e) => e);
  // The queued job ran first (one worker, in order); the crash comes after it.
  assert.equal((await waiting).width, 32);
  assert.ok(crashed instanceof GatewayError);
  assert.deepEqual([crashed.status, crashed.code], [500, "conversion_failed"]);
  assert.match(crashed.message, /^the conversion worker failed: .*crashed on purpose/);
  const after = await conversions.convert(png.slice(), { format: "webp", quality: 80 });
  assert.equal(after.width, 64);
  assert.deepEqual(conversions.load, { workers: 0, running: 0, queued: 0 });
});

Deno.test("a worker converts once and is ended, so no codec's memory outlives its job", async () => {
  using conversions = pool({ workers: 1 });
  const png = await gradientPng(64, 48);
  const first = conversions.convert(png.slice(), { format: "webp", quality: 80 });
  assert.deepEqual(conversions.load, { workers: 1, running: 1, queued: 0 });
  assert.equal((await first).width, 64);
  assert.deepEqual(conversions.load, { workers: 0, running: 0, queued: 0 });
  // Queued jobs each get a fresh worker as the one before ends.
  const two = [80, 60].map((quality) =>
    conversions.convert(png.slice(), { format: "webp", quality })
  );
  assert.deepEqual(conversions.load, { workers: 1, running: 1, queued: 1 });
  assert.deepEqual((await Promise.all(two)).map((out) => out.width), [64, 64]);
  assert.deepEqual(conversions.load, { workers: 0, running: 0, queued: 0 });
});

Deno.test("codecs compiled by one worker are handed to the next, not compiled again", async () => {
  using conversions = pool({ workers: 1 });
  const png = await gradientPng(64, 48);
  await conversions.convert(png.slice(), { format: "webp", width: 32, quality: 80 });
  assert.equal(conversions.compilations, 3, "PNG, resize and WebP's encoder");
  await conversions.convert(png.slice(), { format: "webp", width: 32, quality: 60 });
  assert.equal(conversions.compilations, 3, "the second worker compiled nothing");
  await conversions.convert(png.slice(), { format: "jpeg", quality: 85 });
  assert.equal(conversions.compilations, 4, "only JPEG's encoder was new");
});

Deno.test("a job past its timeout fails with a 500, its worker ended, the next job runs", async () => {
  using conversions = pool({ workers: 1, timeoutMs: 300, workerUrl: CRASH_WORKER });
  const png = await gradientPng(64, 48);
  const started = performance.now();
  const hung = await conversions.convert(png.slice(), { format: "webp", quality: 14 })
    .catch((e) => e);
  assert.ok(hung instanceof GatewayError);
  assert.deepEqual([hung.status, hung.message], [500, "the conversion took over 300 ms"]);
  assert.ok(performance.now() - started < 5_000);
  assert.equal((await conversions.convert(png.slice(), { format: "jpeg", quality: 85 })).width, 64);
});

Deno.test("the main thread stays responsive while four conversions run", async () => {
  using conversions = pool({ workers: 4, queue: 4 });
  const png = await gradientPng(1024, 1024);
  const jobs = Array.from(
    { length: 4 },
    () => conversions.convert(png.slice(), { format: "avif", quality: 60 }),
  );
  let settled = false;
  const all = Promise.all(jobs).finally(() => settled = true);
  let worst = 0;
  let ticks = 0;
  // A 10 ms timer, again and again while the conversions run (bounded: 2,000 ticks).
  while (!settled && ticks < 2_000) {
    const asked = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 10));
    worst = Math.max(worst, performance.now() - asked);
    ticks++;
  }
  await all;
  assert.ok(ticks >= 5, `only ${ticks} ticks: the conversions were too quick to measure`);
  // Generous for a shared machine (each conversion's new Worker costs the main thread 9–14 ms), and
  // still far below one 1024 px AVIF on this thread (about 800 ms), which this test would catch.
  assert.ok(worst < 250, `a 10 ms timer fired after ${worst.toFixed(0)} ms`);
});

Deno.test("dispose ends the workers and fails the jobs still running or waiting with a 503", async () => {
  const conversions = pool({ workers: 1, queue: 1 });
  const png = await gradientPng(256, 256);
  const jobs = [1, 2].map(() =>
    conversions.convert(png.slice(), { format: "avif", quality: 60 }).catch((e) => e)
  );
  conversions.dispose();
  for (const err of await Promise.all(jobs)) assert.ok(err instanceof ServerBusyError);
  await assert.rejects(conversions.convert(png, { format: "webp", quality: 80 }), ServerBusyError);
  assert.deepEqual(conversions.load, { workers: 0, running: 0, queued: 0 });
});

/** Runs `tests/_support/convert_child.ts` as the gateway runs, with `read` as its read access. */
async function convertInChild(mode: "direct" | "pool", read: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-N", "-E", `-R=${read}`, "-W=./data", "tests/_support/convert_child.ts", mode],
    cwd: ROOT,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await child.output();
  return {
    code,
    stdout: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
}

const EXPECTED = { type: "webp", width: 128, height: 96 };

Deno.test("the codecs load under the gateway's own permissions, without the npm cache", async () => {
  const { code, stdout, stderr } = await convertInChild("direct", "./data,.env");
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), EXPECTED);
});

Deno.test("the pool's workers need read access to ./lib, and convert with it", async () => {
  // Deno checks read permission on every module a worker loads; the gateway's `-R=./data,.env`
  // alone makes the worker fail, and the job with it.
  const without = await convertInChild("pool", "./data,.env");
  assert.notEqual(without.code, 0);
  assert.match(without.stderr, /Requires read access to ".*convert_worker\.ts"/);
  const { code, stdout, stderr } = await convertInChild("pool", "./data,.env,./lib");
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), EXPECTED);
});

/** Runs `fn` with `Worker` replaced by one whose constructor throws after `works` starts. */
async function withFailingWorkers(works: number, fn: () => Promise<void>) {
  const real = globalThis.Worker;
  let started = 0;
  globalThis.Worker = function (url: string, options: WorkerOptions) {
    if (started++ >= works) throw new TypeError("Web Workers are not supported");
    return new real(url, options);
  } as unknown as typeof Worker;
  try {
    await fn();
  } finally {
    globalThis.Worker = real;
  }
}

Deno.test("where Web Workers cannot start, conversions run on this thread, one at a time", async () => {
  const why: unknown[] = [];
  await withFailingWorkers(0, async () => {
    using conversions = pool({
      workers: 2,
      queue: 2,
      timeoutMs: 1,
      onInline: (err) => why.push(err),
    });
    const png = await gradientPng(96, 64);
    const jobs = [48, 96, 64].map((width) =>
      conversions.convert(png.slice(), { format: "webp", width, quality: 80 })
    );
    assert.equal(conversions.inline, true);
    // One runs, the queue holds two, and the next is refused: the queue bounds this thread too.
    assert.deepEqual(conversions.load, { workers: 1, running: 1, queued: 2 });
    const refused = await conversions.convert(png.slice(), { format: "webp", quality: 80 })
      .catch((e) => e);
    assert.ok(refused instanceof ServerBusyError);
    // No timeout here (1 ms would fire between codec steps): a conversion on this thread cannot
    // be interrupted, and a timeout would only start the next one beside it.
    const outs = await Promise.all(jobs);
    assert.deepEqual(
      outs.map((out) => imageHeader(new Uint8Array(out.bytes))),
      [48, 96, 64].map((width) => ({ type: "webp", width, height: Math.round((width * 2) / 3) })),
    );
    assert.equal(why.length, 1, "told once");
    assert.match(String(why[0]), /Web Workers are not supported/);
    // Each codec counted once, though the jobs share this thread's instances (PNG's may have been
    // compiled here before, by the test's own gradients).
    const compiled = conversions.compilations;
    assert.ok(compiled >= 2 && compiled <= 3, `${compiled} compilations`);
    await conversions.convert(png.slice(), { format: "webp", width: 32, quality: 80 });
    assert.equal(conversions.compilations, compiled, "nothing new compiled, nothing counted");
    // A bomb is still refused by its header, before any decoding on this thread.
    const bomb = png.slice(0, 64);
    new DataView(bomb.buffer).setUint32(16, 100_000);
    new DataView(bomb.buffer).setUint32(20, 100_000);
    const tooLarge = await conversions.convert(bomb, { format: "webp", quality: 80 })
      .catch((e) => e);
    assert.equal(tooLarge.status, 422);
  });
});

Deno.test("a worker that cannot start after others did fails its job as busy, not the pool", async () => {
  await withFailingWorkers(1, async () => {
    using conversions = pool({ workers: 1, onInline: () => assert.fail("not inline") });
    const png = await gradientPng(64, 48);
    assert.equal(
      (await conversions.convert(png.slice(), { format: "webp", quality: 80 })).width,
      64,
    );
    const refused = await conversions.convert(png.slice(), { format: "webp", quality: 80 })
      .catch((e) => e);
    assert.ok(refused instanceof ServerBusyError);
    assert.match(refused.message, /^no conversion worker could start: TypeError/);
    assert.equal(conversions.inline, false);
    assert.deepEqual(conversions.load, { workers: 0, running: 0, queued: 0 });
  });
});
