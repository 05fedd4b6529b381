/**
 * Clean shutdown of the real process: SIGTERM in the middle of a generation lets it finish and
 * store its image, then the process exits 0; a stream still open when the grace ends gets a final
 * error chunk and `[DONE]`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { getImageMeta } from "../../lib/storage/image_meta.ts";
import { FakeSiliconFlow } from "../_support/fake_siliconflow.ts";
import { GATEWAY_KEY, linkPath } from "../_support/gateway.ts";
import { startGatewayProcess } from "../_support/gateway_process.ts";
import { readSse } from "../_support/sse.ts";

const envFor = (fake: FakeSiliconFlow, extra: Record<string, string> = {}) => ({
  SILICONFLOW_BASE_URL: fake.baseUrl,
  SILICONFLOW_API_KEYS: "sk-upstream-1",
  GATEWAY_API_KEYS: GATEWAY_KEY,
  ...extra,
});

const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${GATEWAY_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

Deno.test("SIGTERM in the middle of a generation lets it finish and store its image, then exits 0", async () => {
  await using fake = new FakeSiliconFlow({ delayMs: 800 });
  await using gw = await startGatewayProcess(envFor(fake));
  const answer = post(gw.url, "/v1/images/generations", { prompt: "x" });
  await new Promise((r) => setTimeout(r, 300));
  gw.child.kill("SIGTERM");
  const res = await answer;
  assert.equal(res.status, 200);
  const id = linkPath((await res.json()).data[0].url).slice(3, 19);
  const { code, stdout } = await gw.output();
  assert.equal(code, 0);
  assert.match(stdout, /SIGTERM: not taking new requests; work in flight has 20 s/);
  assert.match(stdout, /shutdown: done/);
  using kv = await Deno.openKv(gw.kvPath);
  const meta = await getImageMeta(kv, id);
  assert.ok(meta, "the image was stored before the process exited");
  assert.equal(meta.size > 0, true);
});

Deno.test("a stream still open when the shutdown grace ends gets a final error chunk and [DONE]", async () => {
  await using fake = new FakeSiliconFlow({ delayMs: 2000 });
  await using gw = await startGatewayProcess(envFor(fake, { SHUTDOWN_GRACE_SECONDS: "0.3" }));
  const res = await post(gw.url, "/v1/chat/completions", {
    model: "Kwai-Kolors/Kolors",
    stream: true,
    messages: [{ role: "user", content: "a fox" }],
  });
  assert.equal(res.status, 200);
  await new Promise((r) => setTimeout(r, 200));
  const started = Date.now();
  gw.child.kill("SIGTERM");
  const { data } = await readSse(res);
  assert.ok(Date.now() - started < 3000);
  const last = data.at(-2) as {
    choices: { delta: { content: string } }[];
    error: { code: string };
  };
  assert.equal(last.error.code, "gateway_shutting_down");
  assert.match(last.choices[0].delta.content, /^⚠️ The gateway is shutting down/);
  assert.equal(data.at(-1), "[DONE]");
  assert.equal((await gw.output()).code, 0);
  // Let the fake finish its delayed answer before it is shut down.
  await new Promise((r) => setTimeout(r, 100));
});

Deno.test("a non-streamed generation still running when the grace ends is answered 503, not dropped", async () => {
  await using fake = new FakeSiliconFlow({ delayMs: 2000 });
  await using gw = await startGatewayProcess(envFor(fake, { SHUTDOWN_GRACE_SECONDS: "0.3" }));
  const answer = post(gw.url, "/v1/images/generations", { prompt: "x" });
  await new Promise((r) => setTimeout(r, 200));
  gw.child.kill("SIGTERM");
  const res = await answer;
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("x-should-retry"), "false");
  assert.equal((await res.json()).error.code, "gateway_shutting_down");
  assert.equal((await gw.output()).code, 0);
  await new Promise((r) => setTimeout(r, 100));
});
