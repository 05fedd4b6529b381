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
