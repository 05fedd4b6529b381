/**
 * The edges of delivery over a real socket: a keyed client that leaves, a key reused on another
 * endpoint, two instances sharing one KV, two retries at once, a store that fails after the bill,
 * an answer that cannot be shaped, redelivery turned off, many images, and the edits endpoint.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertOpenAIError, GATEWAY_KEY, listen, startGateway } from "../_support/gateway.ts";
import { FakeSiliconFlow } from "../_support/fake_siliconflow.ts";
import { base64Of, tinyPng } from "../_support/images.ts";
import { leaveAfterSend, post } from "../_support/leaving_client.ts";
import { sleep, until } from "../_support/timing.ts";

const GENERATIONS = "/v1/images/generations";

const idOf = (url: string) => new URL(url).pathname.slice(3, 19);

Deno.test("a keyed client that leaves gets its images with the same key, and its line says undelivered", async () => {
  await using gw = await startGateway({ fake: { delayMs: 300 } });
  await using server = listen(gw);
  const headers = { "idempotency-key": "leave-1" };
  await leaveAfterSend(gw.fake, server, GENERATIONS, { prompt: "a crane" }, headers);
  await until(() => gw.log.lines.some((l) => l.includes("undelivered")), "the access line");
  assert.match(gw.log.lines.at(-1)!, /^POST \/v1\/images\/generations 499 \d+ms undelivered$/);
  const again = await post(server, GENERATIONS, { prompt: "a crane" }, { headers });
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  const [id] = (await Array.fromAsync(gw.kv.list({ prefix: ["img"] }))).map((e) => e.key[1]);
  assert.equal(idOf((await again.json()).data[0].url), id);
  assert.equal(gw.fake.generationCalls.length, 1);
  // The key belongs to those parameters on that endpoint: used for a chat answer it is a 409.
  const chat = await post(server, "/v1/chat/completions", {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a crane" }],
  }, { headers });
  await assertOpenAIError(chat, 409, { code: "idempotency_key_reused" });
});

Deno.test("two instances on one KV: a retry to the other instance gets the abandoned image, and a key is answered once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using fake = new FakeSiliconFlow({ delayMs: 400 });
    const kvPath = `${dir}/shared.kv`;
    await using a = await startGateway({ sharedFake: fake, kvPath });
    await using b = await startGateway({ sharedFake: fake, kvPath });
    await using serverA = listen(a);
    await using serverB = listen(b);
    await leaveAfterSend(fake, serverA, GENERATIONS, { prompt: "a seal" });
    // Instance A has noticed its client leave (milliseconds; SDKs wait longer to retry).
    const marked = async () =>
      (await Array.fromAsync(b.kv.list({ prefix: ["undelivered"] }))).length > 0;
    for (let i = 0; i < 100 && !(await marked()); i++) await sleep(10);
    const retry = await post(serverB, GENERATIONS, { prompt: "a seal" });
    assert.equal(retry.headers.get("x-redelivered"), "true");
    await retry.body?.cancel();
    assert.equal(fake.generationCalls.length, 1);

    const headers = { "idempotency-key": "shared-key" };
    const [fromA, fromB] = await Promise.all([
      post(serverA, GENERATIONS, { prompt: "a walrus" }, { headers }).then((r) => r.json()),
      post(serverB, GENERATIONS, { prompt: "a walrus" }, { headers }).then((r) => r.json()),
    ]);
    assert.equal(fromA.data[0].url.slice(-22), fromB.data[0].url.slice(-22));
    assert.equal(fake.generationCalls.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two retries at once: exactly one gets the abandoned image, the other a new one", async () => {
  await using gw = await startGateway({ fake: { delayMs: 300 } });
  await using server = listen(gw);
  await leaveAfterSend(gw.fake, server, GENERATIONS, { prompt: "a mole" });
  const answers = await Promise.all(
    [1, 2].map(() => post(server, GENERATIONS, { prompt: "a mole" })),
  );
  const redelivered = answers.map((r) => r.headers.get("x-redelivered"));
  await Promise.all(answers.map((r) => r.body?.cancel()));
  assert.deepEqual(redelivered.sort(), [null, "true"]);
  assert.equal(gw.fake.generationCalls.length, 2);
});

Deno.test("a store that fails after the bill never fails the answer of the paid image", async () => {
  // Writes of idempotency answers fail, as a full disk would; the image itself is stored.
  await using gw = await startGateway({
    wrapKv: (kv) =>
      new Proxy(kv, {
        get(target, prop) {
          if (prop !== "atomic") return Reflect.get(target, prop)?.bind?.(target);
          return () => {
            const op = target.atomic();
            let answer = false;
            const set = op.set.bind(op);
            op.set = (key, value, options) => {
              answer ||= key[0] === "idempotency" && (value as { state?: string }).state === "done";
              return set(key, value, options);
            };
            const commit = op.commit.bind(op);
            op.commit = () => (answer ? Promise.reject(new Error("disk full")) : commit());
            return op;
          };
        },
      }),
  });
  const res = await gw.app.request(GENERATIONS, {
    method: "POST",
    headers: {
      authorization: `Bearer ${GATEWAY_KEY}`,
      "content-type": "application/json",
      "idempotency-key": "k",
    },
    body: JSON.stringify({ prompt: "x" }),
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).data.length, 1);
  assert.match(gw.log.warnings.join("\n"), /delivery record not written: disk full/);
});

Deno.test("an answer that cannot be shaped still hands over the links of its paid images", async () => {
  await using gw = await startGateway();
  const request = () =>
    gw.app.request(GENERATIONS, {
      method: "POST",
      headers: {
        authorization: `Bearer ${GATEWAY_KEY}`,
        "content-type": "application/json",
        "idempotency-key": "b64",
      },
      body: JSON.stringify({ prompt: "x", response_format: "b64_json" }),
    });
  const first = await (await request()).json();
  assert.equal(first.data[0].b64_json, base64Of(tinyPng));
  // The bytes vanish behind the store's back: the repeated answer cannot read them for b64_json.
  for await (const entry of gw.kv.list({ prefix: ["img_chunk"] })) await gw.kv.delete(entry.key);
  for await (const entry of gw.kv.list({ prefix: ["img"] })) {
    gw.services.cache.delete(String(entry.key[1]));
  }
  const again = await request();
  assert.equal(again.status, 200);
  const body = await again.json();
  assert.match(body.data[0].url, /\/i\/[A-Za-z0-9_-]{16}\.png$/);
  assert.match(gw.log.errors.join("\n"), /cannot shape the images answer/);
});

Deno.test("with REDELIVER_WINDOW_SECONDS=0 nothing is kept: the retry is a new image", async () => {
  await using gw = await startGateway({
    env: { REDELIVER_WINDOW_SECONDS: "0" },
    fake: { delayMs: 200 },
  });
  await using server = listen(gw);
  await leaveAfterSend(gw.fake, server, GENERATIONS, { prompt: "a vole" });
  await until(() => gw.log.lines.some((l) => l.includes("undelivered")), "the access line");
  const retry = await post(server, GENERATIONS, { prompt: "a vole" });
  assert.equal(retry.headers.get("x-redelivered"), null);
  await retry.body?.cancel();
  assert.equal(gw.fake.generationCalls.length, 2);
  assert.deepEqual(await Array.fromAsync(gw.kv.list({ prefix: ["undelivered"] })), []);
});

Deno.test("all of many images are kept and redelivered, and the client's slot is free once the work ends", async () => {
  await using gw = await startGateway({
    env: { MAX_IMAGES_PER_REQUEST: "20", CLIENT_MAX_CONCURRENT: "1" },
    fake: { delayMs: 200 },
  });
  await using server = listen(gw);
  await leaveAfterSend(gw.fake, server, GENERATIONS, { prompt: "stars", n: 20 });
  const retry = await post(server, GENERATIONS, { prompt: "stars", n: 20 });
  assert.equal(retry.headers.get("x-redelivered"), "true");
  assert.equal((await retry.json()).data.length, 20);
  // The abandoned work is over: one slot, and it is free.
  const other = await post(server, GENERATIONS, { prompt: "moons" });
  assert.equal(other.status, 200);
  await other.body?.cancel();
});

// Deno 2.9.6 reports a client leaving only for requests whose body came with their head; for
// the others (an edit with its picture, a long conversation) the answer's end is held briefly.
Deno.test("an edit, and a long chat, whose client left are redelivered: Deno's blind spot for request bodies", async () => {
  await using gw = await startGateway({ fake: { delayMs: 1600 } });
  await using server = listen(gw);
  const edit = {
    model: "Qwen/Qwen-Image-Edit",
    prompt: "make it blue",
    image: `data:image/png;base64,${base64Of(tinyPng)}`,
  };
  const chat = {
    model: "Kwai-Kolors/Kolors",
    messages: [
      { role: "user", content: "a long conversation ".repeat(100) },
      { role: "assistant", content: "sure" },
      { role: "user", content: "a barn owl" },
    ],
  };
  for (const [path, body] of [["/v1/images/edits", edit], ["/v1/chat/completions", chat]]) {
    const calls = gw.fake.generationCalls.length;
    const lines = gw.log.lines.length;
    await leaveAfterSend(gw.fake, server, path as string, body);
    await until(() => gw.log.lines.length > lines, "the first line", 5000);
    assert.match(gw.log.lines.at(-1)!, / 499 \d+ms undelivered$/, path as string);
    const retry = await post(server, path as string, body);
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get("x-redelivered"), "true", path as string);
    await retry.body?.cancel();
    assert.equal(gw.fake.generationCalls.length, calls + 1, path as string);
  }
});
