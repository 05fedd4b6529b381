/**
 * Retries and the pool's health through the whole gateway, against the fake SiliconFlow.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertOpenAIError, startGateway } from "../_support/gateway.ts";

const OVERLOADED = {
  status: 503,
  body: { code: 50505, message: "Model service overloaded. Please try again later.", data: null },
};

Deno.test("two 'overloaded' answers in a row are retried away: the client gets its image", async () => {
  await using gw = await startGateway();
  gw.fake.failNext(OVERLOADED, { times: 2 });
  const res = await gw.post("/v1/images/generations", { prompt: "x" });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).data.length, 1);
  assert.equal(gw.fake.generationCalls.length, 3);
});

Deno.test("in pass-through mode the client's own key is retried the same way", async () => {
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: undefined, GATEWAY_API_KEYS: undefined },
  });
  gw.fake.failNext(OVERLOADED);
  const res = await gw.post("/v1/images/generations", { prompt: "x" }, { key: "sk-upstream-1" });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.key), ["sk-upstream-1", "sk-upstream-1"]);
});

Deno.test("GET /v1/status shows the pool's health as counts, behind a client key", async () => {
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: "sk-revoked-key-000001,sk-upstream-1" },
  });
  const generated = await gw.post("/v1/images/generations", { prompt: "x" });
  assert.equal(generated.status, 200);
  await generated.body?.cancel();
  const res = await gw.get("/v1/status");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const text = await res.text();
  assert.deepEqual(JSON.parse(text), {
    object: "gateway.status",
    auth_mode: "pool",
    image_store: "kv",
    pool: { keys: 2, healthy: 1, resting: 0, retired: 1 },
    providers: {},
  });
  assert.doesNotMatch(text, /sk-|gw-/);
  await assertOpenAIError(await gw.get("/v1/status", { key: null }), 401, {
    code: "invalid_api_key",
  });
  await using passThrough = await startGateway({
    env: { SILICONFLOW_API_KEYS: undefined, GATEWAY_API_KEYS: undefined },
  });
  const none = await passThrough.get("/v1/status", { key: "sk-anything" });
  assert.equal((await none.json()).pool, null);
});

Deno.test("a refused connection is retried, and answered 502 upstream_unreachable in the end", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await using gw = await startGateway({
    env: { SILICONFLOW_BASE_URL: `http://127.0.0.1:${port}/v1` },
  });
  const started = Date.now();
  const res = await gw.post("/v1/images/generations", { prompt: "x" });
  // Two back-offs (about 0.25–0.75 s and 0.5–1.5 s) prove the retries.
  assert.ok(Date.now() - started >= 700, `${Date.now() - started} ms`);
  assert.equal(res.headers.get("x-should-retry"), null);
  await assertOpenAIError(res, 502, {
    code: "upstream_unreachable",
    message: "Could not reach SiliconFlow; try again shortly",
  });
});

Deno.test("a connection lost after the request went out is never retried, and SDKs are told not to", async () => {
  // A server that reads the request, then hangs up without answering.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let requests = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      requests++;
      await conn.read(new Uint8Array(65536)).catch(() => null);
      conn.close();
    }
  })().catch(() => {});
  try {
    await using gw = await startGateway({
      env: { SILICONFLOW_BASE_URL: `http://127.0.0.1:${listener.addr.port}/v1` },
    });
    const res = await gw.post("/v1/images/generations", { prompt: "x" });
    assert.equal(res.headers.get("x-should-retry"), "false");
    await assertOpenAIError(res, 502, { code: "upstream_connection_lost" });
    assert.equal(requests, 1);
  } finally {
    listener.close();
    await serving;
  }
});
