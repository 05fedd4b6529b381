/**
 * A paid image always reaches its owner and is never paid for twice, over a real socket: a client
 * that leaves before the upstream call is sent cancels it; once sent, the work finishes, the image
 * is stored and kept for the client's identical retry (which waits for it while it is still
 * being made); delivered answers are never handed out again; `Idempotency-Key` answers once per
 * key; the per-client slot stays taken while a call runs after its client left.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  assertOpenAIError,
  GATEWAY_KEY,
  listen,
  startGateway,
  type TestGateway,
} from "../_support/gateway.ts";
import { leaveAfterSend, post } from "../_support/leaving_client.ts";
import { sleep, until } from "../_support/timing.ts";

const GENERATIONS = "/v1/images/generations";
const CHAT = "/v1/chat/completions";

const imageKeys = async (gw: TestGateway) =>
  (await Array.fromAsync(gw.kv.list({ prefix: ["img"] }))).map((e) => String(e.key[1]));

Deno.test("a client that leaves after the upstream call is sent still gets its image on the retry, without a second call", async () => {
  await using gw = await startGateway({ fake: { delayMs: 400 } });
  await using server = listen(gw);
  await leaveAfterSend(gw.fake, server, GENERATIONS, { prompt: "a fox" });
  // The work finishes: the image is stored, listed in the gallery, and the line says undelivered.
  await until(() => gw.log.lines.some((l) => l.includes("undelivered")), "the access line");
  assert.match(gw.log.lines.at(-1)!, /^POST \/v1\/images\/generations 499 \d+ms undelivered$/);
  const stored = await imageKeys(gw);
  assert.equal(stored.length, 1);
  const gallery = await (await gw.get("/v1/images")).json();
  assert.deepEqual(gallery.data.map((i: { id: string }) => i.id), stored);

  const retry = await post(server, GENERATIONS, { prompt: "a fox" });
  assert.equal(retry.status, 200);
  assert.equal(retry.headers.get("x-redelivered"), "true");
  const body = await retry.json();
  assert.equal(body.data.length, 1);
  assert.match(body.data[0].url, new RegExp(`/i/${stored[0]}\\.png$`));
  assert.equal(gw.fake.generationCalls.length, 1);
  await until(() => gw.log.lines.some((l) => / 200 \d+ms redelivered$/.test(l)), "the retry line");

  // Delivered now: the next identical request is a new image, as "regenerate" expects.
  const again = await (await post(server, GENERATIONS, { prompt: "a fox" })).json();
  assert.notEqual(again.data[0].url, body.data[0].url);
  assert.equal(gw.fake.generationCalls.length, 2);
  assert.deepEqual(gw.log.errors, []);
});

Deno.test("a client that leaves before the upstream call is sent cancels it: nothing is paid", async () => {
  await using gw = await startGateway();
  await using server = listen(gw);
  // Overloaded (not billed): the gateway waits about 0.25–0.75 s before it tries again.
  gw.fake.failNext({ status: 503, body: { code: 50505, message: "Model service overloaded." } });
  const abort = new AbortController();
  const pending = post(server, GENERATIONS, { prompt: "a fox" }, { signal: abort.signal })
    .catch(() => "left");
  await until(() => gw.fake.generationCalls.length === 1, "the first call");
  abort.abort();
  assert.equal(await pending, "left");
  await until(() => gw.log.lines.length === 1, "the access line");
  assert.match(gw.log.lines[0], /^POST \/v1\/images\/generations 499 \d+ms$/);
  await sleep(900);
  assert.equal(gw.fake.generationCalls.length, 1, "the retry was never sent");
  assert.deepEqual(await imageKeys(gw), []);
  assert.deepEqual(await Array.fromAsync(gw.kv.list({ prefix: ["undelivered"] })), []);
});

Deno.test("an identical request while the abandoned call still runs waits for it and gets its image", async () => {
  await using gw = await startGateway({ fake: { delayMs: 700 } });
  await using server = listen(gw);
  await leaveAfterSend(gw.fake, server, GENERATIONS, { prompt: "a heron", size: "1024x1024" });
  const started = Date.now();
  const retry = await post(server, GENERATIONS, { prompt: "a heron", size: "1024x1024" });
  assert.equal(retry.status, 200);
  assert.equal(retry.headers.get("x-redelivered"), "true");
  const body = await retry.json();
  assert.ok(Date.now() - started < 3000);
  assert.equal(gw.fake.generationCalls.length, 1);
  assert.deepEqual(await imageKeys(gw), [new URL(body.data[0].url).pathname.slice(3, 19)]);
  // A request with other parameters is its own.
  await (await post(server, GENERATIONS, { prompt: "a heron", size: "768x1024" })).body?.cancel();
  assert.equal(gw.fake.generationCalls.length, 2);
});

Deno.test("identical requests whose clients all stay are independent: each gets its own images", async () => {
  await using gw = await startGateway({ fake: { delayMs: 100 } });
  await using server = listen(gw);
  const answers = await Promise.all(
    [1, 2, 3].map(async () => await (await post(server, GENERATIONS, { prompt: "same" })).json()),
  );
  const urls = new Set(answers.map((a) => a.data[0].url));
  assert.equal(urls.size, 3);
  assert.equal(gw.fake.generationCalls.length, 3);
  assert.deepEqual(await Array.fromAsync(gw.kv.list({ prefix: ["undelivered"] })), []);
});

Deno.test("an image stream whose client leaves keeps its image for the retried stream", async () => {
  await using gw = await startGateway({ fake: { delayMs: 300 } });
  await using server = listen(gw);
  await leaveAfterSend(gw.fake, server, GENERATIONS, { prompt: "a lynx", stream: true });
  await until(() => gw.log.lines.some((l) => l.includes("undelivered")), "the access line");
  const retry = await post(server, GENERATIONS, { prompt: "a lynx", stream: true });
  // Known before the stream starts: the kept answer was taken when the request was read.
  assert.equal(retry.headers.get("x-redelivered"), "true");
  const text = await retry.text();
  assert.match(text, /event: image_generation\.completed/);
  const [id] = await imageKeys(gw);
  assert.match(text, new RegExp(`/i/${id}\\.png`));
  assert.equal(gw.fake.generationCalls.length, 1);
});

Deno.test("chat answers, streamed or not, whose client left are redelivered on the retry", async () => {
  for (const stream of [false, true]) {
    await using gw = await startGateway({ fake: { delayMs: 300 } });
    await using server = listen(gw);
    const request = {
      model: "Kwai-Kolors/Kolors",
      stream,
      messages: [{ role: "user", content: "an owl" }],
    };
    await leaveAfterSend(gw.fake, server, CHAT, request);
    await until(() => gw.log.lines.some((l) => l.includes("undelivered")), `the line (${stream})`);
    const retry = await post(server, CHAT, request);
    const text = await retry.text();
    const [id] = await imageKeys(gw);
    assert.match(text, new RegExp(`/i/${id}\\.png`), `stream: ${stream}`);
    assert.equal(gw.fake.generationCalls.length, 1, `stream: ${stream}`);
  }
});

Deno.test("Idempotency-Key: one upstream call per key, the same answer again, concurrent ones wait", async () => {
  await using gw = await startGateway({ fake: { delayMs: 200 } });
  await using server = listen(gw);
  const headers = { "idempotency-key": "order-42" };
  const [a, b] = await Promise.all([
    post(server, GENERATIONS, { prompt: "a cat" }, { headers }),
    post(server, GENERATIONS, { prompt: "a cat" }, { headers }),
  ]);
  const [bodyA, bodyB] = [await a.json(), await b.json()];
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(bodyA.data[0].url, bodyB.data[0].url);
  assert.deepEqual(
    [a.headers.get("idempotent-replayed"), b.headers.get("idempotent-replayed")].sort(),
    [null, "true"],
  );
  const later = await post(server, GENERATIONS, { prompt: "a cat" }, { headers });
  assert.equal(later.headers.get("idempotent-replayed"), "true");
  assert.equal((await later.json()).data[0].url, bodyA.data[0].url);
  assert.equal(gw.fake.generationCalls.length, 1);

  const reused = await post(server, GENERATIONS, { prompt: "a dog" }, { headers });
  await assertOpenAIError(reused, 409, {
    code: "idempotency_key_reused",
    param: "Idempotency-Key",
  });
});

Deno.test("Idempotency-Key: a failure that cannot have been billed frees the key; a bad key is a 400", async () => {
  await using gw = await startGateway({ env: { UPSTREAM_RETRIES: "0" } });
  const withKey = (key: string) =>
    gw.app.request(GENERATIONS, {
      method: "POST",
      headers: {
        "idempotency-key": key,
        authorization: `Bearer ${GATEWAY_KEY}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ prompt: "x" }),
    });
  gw.fake.failNext({ status: 503, body: { code: 50505, message: "Model service overloaded." } });
  const first = await withKey("k-1");
  assert.equal(first.status, 503);
  await first.body?.cancel();
  const second = await withKey("k-1");
  assert.equal(second.status, 200);
  await second.body?.cancel();
  assert.equal(gw.fake.generationCalls.length, 2);

  await assertOpenAIError(await withKey("x".repeat(300)), 400, {
    code: "invalid_idempotency_key",
    param: "Idempotency-Key",
  });
  assert.equal(gw.fake.generationCalls.length, 2);
});

Deno.test("a slot stays taken while its upstream call runs, even after its client left", async () => {
  await using gw = await startGateway({
    env: { CLIENT_MAX_CONCURRENT: "2" },
    fake: { delayMs: 1000 },
  });
  await using server = listen(gw);
  const outcomes = await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
    await sleep(i * 20);
    const abort = AbortSignal.timeout(300);
    try {
      const res = await post(server, GENERATIONS, { prompt: `p${i}` }, { signal: abort });
      await res.body?.cancel();
      return res.status;
    } catch {
      return "left";
    }
  }));
  assert.deepEqual(outcomes.filter((o) => o === 429).length, 3);
  await until(() => gw.log.lines.filter((l) => l.includes("undelivered")).length === 2, "work");
  assert.equal(gw.fake.generationCalls.length, 2);
  assert.ok(gw.fake.maxInFlight <= 2);
});

Deno.test("a model id no header can carry never fails the answer of paid images", async () => {
  await using gw = await startGateway();
  // An OpenAI id without an alias is replaced by the default model and named in a header.
  const res = await gw.post(GENERATIONS, { prompt: "x", model: "gpt-image-模型 %x" });
  assert.equal(res.status, 200);
  assert.equal(
    res.headers.get("x-model-substituted"),
    "gpt-image-%E6%A8%A1%E5%9E%8B %25x -> Kwai-Kolors/Kolors",
  );
  assert.equal((await res.json()).data.length, 1);
});
