import assert from "node:assert/strict";
import { assertOpenAIError, startGateway } from "../_support/gateway.ts";
import type { ScriptedReply } from "../_support/fake_siliconflow.ts";
import { translateUpstreamError } from "../../lib/upstream/error_translation.ts";
import { MAX_DETAIL_KEPT, parseError, SiliconFlowError } from "../../lib/upstream/siliconflow.ts";

const GENERATIONS = "/v1/images/generations";

interface Case {
  name: string;
  reply: ScriptedReply;
  status: number;
  type: string;
  code: string | null;
  param?: string | null;
  message: RegExp;
  headers?: Record<string, string | null>;
}

// Bodies as SiliconFlow documents them (siliconflow-api.md §5): objects with code, bare JSON
// strings, plain text, and a 429 object without a code.
const CASES: Case[] = [
  {
    name: "400 with code 20012 (unknown model) becomes 404 model_not_found",
    reply: {
      status: 400,
      body: {
        code: 20012,
        message: "Model does not exist. Please check it carefully.",
        data: null,
      },
    },
    status: 404,
    type: "invalid_request_error",
    code: "model_not_found",
    param: "model",
    message:
      /^The model does not exist on SiliconFlow\. SiliconFlow said: Model does not exist\. Please check it carefully\. \(code 20012\)$/,
  },
  {
    name: "400 with code 20015 stays a 400 with SiliconFlow's message",
    reply: {
      status: 400,
      body: { code: 20015, message: "The parameter is invalid. Please check again.", data: null },
    },
    status: 400,
    type: "invalid_request_error",
    code: "siliconflow_20015",
    message: /^SiliconFlow rejected the request\. SiliconFlow said: The parameter is invalid/,
    headers: { "x-should-retry": null },
  },
  {
    name: '403 "Forbidden" becomes 403 explaining balance or verification',
    reply: { status: 403, body: '"Forbidden"' },
    status: 403,
    type: "permission_error",
    code: "upstream_forbidden",
    message: /balance is insufficient, or the model requires real-name verification.*Forbidden$/,
  },
  {
    name: "402 with code 30001 becomes 402 insufficient_quota",
    reply: {
      status: 402,
      body: { code: 30001, message: "Sorry, your account balance is insufficient", data: null },
    },
    status: 402,
    type: "insufficient_quota",
    code: "insufficient_quota",
    message: /balance is insufficient\. SiliconFlow said: Sorry, your account balance/,
  },
  {
    name: "429 without code becomes 429 with retry-after",
    reply: {
      status: 429,
      body: {
        message:
          "Request was rejected due to rate limiting. If you want more, please contact contact@siliconflow.cn. Details:IPM limit reached.",
        data: null,
      },
    },
    status: 429,
    type: "rate_limit_error",
    code: "rate_limit_exceeded",
    message: /rate limit was reached\. SiliconFlow said: .*IPM limit reached\.$/,
    headers: { "retry-after": "20", "retry-after-ms": "20000" },
  },
  {
    name: "429 keeps SiliconFlow's own retry-after",
    reply: {
      status: 429,
      body: { message: "TPM limit reached." },
      headers: { "retry-after": "7" },
    },
    status: 429,
    type: "rate_limit_error",
    code: "rate_limit_exceeded",
    message: /TPM limit reached/,
    headers: { "retry-after": "7", "retry-after-ms": "7000" },
  },
  {
    name: "503 with code 50505 becomes 503 overloaded",
    reply: {
      status: 503,
      body: {
        code: 50505,
        message: "Model service overloaded. Please try again later.",
        data: null,
      },
    },
    status: 503,
    type: "upstream_error",
    code: "siliconflow_50505",
    message:
      /^SiliconFlow is overloaded; try again later\. SiliconFlow said: Model service overloaded/,
    headers: { "retry-after": "5" },
  },
  {
    name: "504 with a bare string becomes 504 that SDKs must not retry (it may have been billed)",
    reply: { status: 504, body: "upstream request timeout" },
    status: 504,
    type: "upstream_error",
    code: "upstream_timeout",
    message: /^SiliconFlow timed out\. SiliconFlow said: upstream request timeout$/,
    headers: { "x-should-retry": "false" },
  },
  {
    name: "500 with a plain-text body becomes 502",
    reply: { status: 500, body: "Internal Server Error" },
    status: 502,
    type: "upstream_error",
    code: "upstream_error",
    message: /^SiliconFlow failed with HTTP 500\. SiliconFlow said: Internal Server Error$/,
  },
  {
    name: "404 from the upstream points at SILICONFLOW_BASE_URL",
    reply: { status: 404, body: "404 page not found" },
    status: 502,
    type: "upstream_error",
    code: "upstream_not_found",
    message: /check SILICONFLOW_BASE_URL\. SiliconFlow said: 404 page not found$/,
  },
  {
    name: "451 (NSFW) becomes 400 content_policy_violation",
    reply: { status: 451, body: { code: 20021, message: "NSFW content detected" } },
    status: 400,
    type: "invalid_request_error",
    code: "content_policy_violation",
    message: /NSFW content detected \(code 20021\)$/,
  },
  {
    name: "a 200 without images becomes 502 that SDKs must not retry",
    reply: { status: 200, body: { images: [], timings: { inference: 1 }, seed: 1 } },
    status: 502,
    type: "upstream_error",
    code: "upstream_bad_response",
    message: /^SiliconFlow answered with an unusable reply: the reply contained no images$/,
    headers: { "x-should-retry": "false" },
  },
  {
    name: "a 200 that is not JSON becomes 502",
    reply: { status: 200, body: "<html>gateway</html>" },
    status: 502,
    type: "upstream_error",
    code: "upstream_bad_response",
    message: /the reply was not JSON$/,
  },
];

for (const c of CASES) {
  Deno.test(`upstream ${c.name}`, async () => {
    // What each failure becomes, not retried away (retries have tests of their own).
    await using gw = await startGateway({ env: { UPSTREAM_RETRIES: "0" } });
    gw.fake.failNext(c.reply);
    const res = await gw.post(GENERATIONS, { prompt: "x" });
    for (const [name, value] of Object.entries(c.headers ?? {})) {
      assert.equal(res.headers.get(name), value, name);
    }
    await assertOpenAIError(res, c.status, {
      type: c.type,
      code: c.code,
      param: c.param ?? null,
      message: c.message,
    });
  });
}

Deno.test("upstream messages never carry a key, even when SiliconFlow echoes one", async () => {
  await using gw = await startGateway();
  gw.fake.failNext({
    status: 400,
    body: { code: 20015, message: "key sk-upstream-1 and sk-abcdefghijklmnopqrstuvwxyz are bad" },
  });
  const error = await assertOpenAIError(await gw.post(GENERATIONS, { prompt: "x" }), 400, {});
  assert.equal(
    error.message,
    "SiliconFlow rejected the request. SiliconFlow said: key sk-*** and sk-*** are bad (code 20015)",
  );
});

Deno.test("an unreachable upstream becomes 502 upstream_unreachable in a person's words; the address goes to the log only", async () => {
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = listener.addr.port;
  listener.close();
  await using gw = await startGateway({
    env: { SILICONFLOW_BASE_URL: `http://127.0.0.1:${port}/v1`, UPSTREAM_RETRIES: "0" },
  });
  for (const res of [await gw.post(GENERATIONS, { prompt: "x" }), await gw.get("/v1/models")]) {
    await assertOpenAIError(res, 502, {
      type: "upstream_error",
      code: "upstream_unreachable",
      // Not Deno's "error sending request for url (http://127.0.0.1:…): client error (Connect)…".
      message: "Could not reach SiliconFlow; try again shortly",
    });
  }
  // The operator still learns what happened, and where.
  const logged = gw.log.warnings.filter((l) => l.startsWith("SiliconFlow call failed:"));
  assert.ok(logged.length >= 2, JSON.stringify(gw.log.warnings));
  for (const line of logged) {
    assert.match(line, /^SiliconFlow call failed: cannot connect: .*127\.0\.0\.1:\d+/);
  }
});

Deno.test("an upstream slower than UPSTREAM_TIMEOUT_SECONDS becomes 504 that SDKs must not retry", async () => {
  await using gw = await startGateway({
    env: { UPSTREAM_TIMEOUT_SECONDS: "1" },
    fake: { delayMs: 1300 },
  });
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.headers.get("x-should-retry"), "false");
  await assertOpenAIError(res, 504, {
    type: "upstream_error",
    code: "upstream_timeout",
    message: /^SiliconFlow did not answer in time: no answer within 1 s$/,
  });
  // Let the fake finish its delayed answer before it is shut down.
  await new Promise((r) => setTimeout(r, 400));
});

Deno.test("the key pool fails over to the next key when one is out of balance, and sets it aside", async () => {
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: "sk-a, sk-b\nsk-c" },
    fake: { keys: ["sk-a", "sk-b", "sk-c"] },
  });
  gw.fake.failNext({ status: 403, body: '"Forbidden"' }, { key: "sk-a", times: 10 });
  for (let i = 0; i < 4; i++) {
    const res = await gw.post(GENERATIONS, { model: "Qwen/Qwen-Image", prompt: "x" });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  // First request: sk-a fails, sk-b answers. Later requests rotate over sk-b and sk-c only.
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.key), [
    "sk-a",
    "sk-b",
    "sk-b",
    "sk-c",
    "sk-b",
  ]);
  assert.deepEqual(gw.log.warnings, ["SiliconFlow key #1 set aside for Qwen/Qwen-Image: HTTP 403"]);
});

Deno.test("the key pool sets a rate-limited key aside for that model only", async () => {
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: "sk-a,sk-b" },
    fake: { keys: ["sk-a", "sk-b"] },
  });
  gw.fake.failNext({ status: 429, body: { message: "IPM limit reached." } }, { key: "sk-a" });
  const first = await gw.post(GENERATIONS, { model: "Qwen/Qwen-Image", prompt: "x" });
  const second = await gw.post(GENERATIONS, { model: "Qwen/Qwen-Image", prompt: "x" });
  const otherModel = await gw.post(GENERATIONS, { model: "Kwai-Kolors/Kolors", prompt: "x" });
  for (const res of [first, second, otherModel]) {
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.key), ["sk-a", "sk-b", "sk-b", "sk-a"]);
});

Deno.test("the key pool does not retry other keys for errors that are not about the key", async () => {
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: "sk-a,sk-b" },
    fake: { keys: ["sk-a", "sk-b"] },
  });
  gw.fake.failNext({ status: 400, body: { code: 20015, message: "The parameter is invalid." } });
  await assertOpenAIError(await gw.post(GENERATIONS, { prompt: "x" }), 400, {
    code: "siliconflow_20015",
  });
  assert.equal(gw.fake.generationCalls.length, 1);
});

Deno.test("the key pool reports the last key's error when every key fails", async () => {
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: "sk-a,sk-b" },
    fake: { keys: ["sk-a", "sk-b"] },
  });
  gw.fake.failNext({ status: 429, body: { message: "IPM limit reached." } }, { times: 2 });
  await assertOpenAIError(await gw.post(GENERATIONS, { prompt: "x" }), 429, {
    code: "rate_limit_exceeded",
  });
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.key), ["sk-a", "sk-b"]);
});

Deno.test("upstream code 30001 (empty balance) is a 402 insufficient_quota even when sent with 403", async () => {
  await using gw = await startGateway();
  gw.fake.failNext({
    status: 403,
    body: { code: 30001, message: "Sorry, your account balance is insufficient", data: null },
  });
  await assertOpenAIError(await gw.post(GENERATIONS, { prompt: "x" }), 402, {
    type: "insufficient_quota",
    code: "insufficient_quota",
    message:
      /balance is insufficient\. SiliconFlow said: Sorry, your account balance is insufficient \(code 30001\)$/,
  });
});

Deno.test("the key pool sets an invalid key aside for every model", async () => {
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: "sk-revoked,sk-b" },
    fake: { keys: ["sk-b"] },
  });
  for (const model of ["Qwen/Qwen-Image", "Kwai-Kolors/Kolors", "Qwen/Qwen-Image"]) {
    const res = await gw.post(GENERATIONS, { model, prompt: "x" });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.key), [
    "sk-revoked",
    "sk-b",
    "sk-b",
    "sk-b",
  ]);
  assert.deepEqual(gw.log.warnings, ["SiliconFlow key #1 retired for every model: HTTP 401"]);
});

Deno.test("a key after 286 characters of an upstream message shows no part of it", async () => {
  const key = "sk-upstream-key-0123456789abcdef";
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: key, UPSTREAM_RETRIES: "0" },
    fake: { keys: [key] },
  });
  for (const at of [270, 286, 293, 299, 320]) {
    gw.fake.failNext({
      status: 400,
      body: { code: 20015, message: `${"x".repeat(at)}${key} more` },
    });
    const error = await assertOpenAIError(await gw.post(GENERATIONS, { prompt: "x" }), 400, {});
    // Before, the message was cut to 300 characters first: "sk-upstream-k" was shown.
    for (let n = 4; n <= key.length; n++) {
      assert.ok(!error.message.includes(key.slice(0, n)), `at ${at}: ${error.message}`);
    }
  }
});

Deno.test("an upstream message is kept whole for redaction, and a client is shown its first 300 characters", () => {
  const res = new Response(null, { status: 400 });
  const long = "y".repeat(1000);
  assert.equal(parseError(res, JSON.stringify({ message: long })).detail, long);
  // A proxy's page is cut at a space, past what redaction looks at.
  const page = parseError(res, "words ".repeat(5000)).detail;
  assert.equal(MAX_DETAIL_KEPT, 16_384); // the cut falls in the 2,731st word, which goes whole
  assert.equal(page, `${"words ".repeat(2729)}words…`);
  const error = translateUpstreamError(new SiliconFlowError(400, long), {
    authMode: "pool",
    secrets: [],
  });
  assert.equal(
    error.message,
    `SiliconFlow rejected the request. SiliconFlow said: ${"y".repeat(300)}…`,
  );
});
