/**
 * JSON bodies within the byte limit whose shape would cost a schema seconds and gigabytes: a
 * million array elements, an object with a million keys, nesting thousands deep. Each is a 400
 * before any schema reads it, in milliseconds; a long but real conversation still works.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MAX_JSON_VALUES, MAX_OBJECT_KEYS } from "../../lib/openai/json_shape.ts";
import { assertOpenAIError, startGateway } from "../_support/gateway.ts";

const CHAT = "/v1/chat/completions";

Deno.test("wide arrays and objects in a JSON body are a 400 at once, before any schema reads them", async () => {
  await using gw = await startGateway();
  const ones = (n: number) => `[${"1,".repeat(n - 1)}1]`;
  const cases: [string, string, string][] = [
    // 2 MB of messages took 1.15 s and 450 MB before; 1 MB of content parts 3.3 s and 934 MB.
    [CHAT, `{"model":"Kwai-Kolors/Kolors","messages":${ones(1_000_000)}}`, "json_too_large"],
    [
      CHAT,
      `{"model":"Kwai-Kolors/Kolors","messages":[{"role":"user","content":${ones(500_000)}}]}`,
      "json_too_large",
    ],
    // A million unknown keys took 4.3 s and 484 MB, then answered 200.
    [
      "/v1/images/generations",
      `{"prompt":"x",${Array.from({ length: 300_000 }, (_, i) => `"k${i}":1`).join(",")}}`,
      "json_too_large",
    ],
    [CHAT, `${"[".repeat(10_000)}${"]".repeat(10_000)}`, "json_too_deep"],
  ];
  for (const [path, body, code] of cases) {
    const started = performance.now();
    const res = await gw.post(path, body);
    const ms = performance.now() - started;
    await assertOpenAIError(res, 400, { code, param: null });
    assert.ok(ms < 1000, `${code}: ${Math.round(ms)} ms for ${body.length} bytes`);
  }
  assert.equal(gw.fake.generationCalls.length, 0);
  assert.ok(MAX_OBJECT_KEYS < 300_000 && MAX_JSON_VALUES < 500_000);
});

Deno.test("a long real conversation is still answered", async () => {
  await using gw = await startGateway();
  const messages = Array.from({ length: 5000 }, (_, i) => ({
    role: i % 2 === 0 ? "user" : "assistant",
    content: `turn ${i}`,
  }));
  messages.push({ role: "user", content: "a red fox" });
  const res = await gw.post(CHAT, { model: "Kwai-Kolors/Kolors", messages });
  assert.equal(res.status, 200);
  assert.match((await res.json()).choices[0].message.content, /!\[[^\]]*\]\(http/);
});
