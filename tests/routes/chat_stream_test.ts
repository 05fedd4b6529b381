/**
 * Streamed chat answers: the exact chunk sequence (read raw and through the openai SDK),
 * keep-alives under a slow upstream, errors after the stream started, and clients that leave.
 *
 * @module
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { API_HEADERS, headersOf, openaiClient, startGateway } from "../_support/gateway.ts";
import { readSse } from "../_support/sse.ts";

/** For tests of what a failure becomes: the failure is not retried away. */
const NO_RETRIES = { UPSTREAM_RETRIES: "0" };

const CHAT = "/v1/chat/completions";
const REQUEST = {
  model: "Kwai-Kolors/Kolors",
  stream: true,
  messages: [{ role: "user", content: "a red fox" }],
};

interface Chunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: {
    index: number;
    delta: Record<string, string>;
    logprobs: null;
    finish_reason: string | null;
  }[];
  usage?: unknown;
  error?: unknown;
}

const sdk = openaiClient;

Deno.test("chat stream sends role, progress as reasoning, the images, stop, usage and [DONE]", async () => {
  await using gw = await startGateway();
  const res = await gw.post(CHAT, { ...REQUEST, stream_options: { include_usage: true } });
  assert.equal(res.status, 200);
  assert.deepEqual(headersOf(res), {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": API_HEADERS["access-control-expose-headers"],
    "cache-control": "no-cache",
    "content-type": "text/event-stream; charset=utf-8",
    "x-accel-buffering": "no",
  });
  const { data } = await readSse(res);
  assert.equal(data.at(-1), "[DONE]");
  const chunks = data.slice(0, -1) as Chunk[];
  const { id, created } = chunks[0];
  for (const c of chunks) {
    assert.equal(c.id, id);
    assert.equal(c.created, created);
    assert.equal(c.model, "Kwai-Kolors/Kolors");
    assert.equal(c.object, "chat.completion.chunk");
  }
  const deltas = chunks.map((c) => c.choices[0]?.delta);
  assert.deepEqual(deltas[0], { role: "assistant", content: "" });
  assert.deepEqual(deltas[1], {
    reasoning_content: "Generating 1 image with Kwai-Kolors/Kolors at 1024x1024…\n",
  });
  assert.match(deltas[2].reasoning_content, /^Done in \d+\.\d s\.\n$/);
  assert.match(
    deltas[3].content,
    /^!\[a red fox\]\(http:\/\/localhost\/i\/[A-Za-z0-9_-]{16}\.png\)$/,
  );
  assert.deepEqual(chunks[4].choices, [{
    index: 0,
    delta: {},
    logprobs: null,
    finish_reason: "stop",
  }]);
  assert.deepEqual(chunks[5].choices, []);
  assert.deepEqual(chunks[5].usage, { prompt_tokens: 3, completion_tokens: 14, total_tokens: 17 });
  assert.equal(chunks.length, 6);
});

Deno.test("chat stream without include_usage sends no usage chunk", async () => {
  await using gw = await startGateway();
  const { data } = await readSse(await gw.post(CHAT, REQUEST));
  const chunks = data.slice(0, -1) as Chunk[];
  assert.equal(chunks.at(-1)?.choices[0].finish_reason, "stop");
  assert.ok(chunks.every((c) => c.usage === undefined));
});

Deno.test("chat stream puts progress in content with CHAT_PROGRESS=content, nowhere with off", async () => {
  for (const [setting, expected] of [["content", 5], ["off", 3]] as const) {
    await using gw = await startGateway({ env: { CHAT_PROGRESS: setting } });
    const { data } = await readSse(await gw.post(CHAT, REQUEST));
    const deltas = (data.slice(0, -1) as Chunk[]).map((c) => c.choices[0].delta);
    assert.equal(deltas.length, expected, setting);
    assert.ok(deltas.every((d) => d.reasoning_content === undefined), setting);
    if (setting === "content") {
      assert.equal(
        deltas[1].content,
        "Generating 1 image with Kwai-Kolors/Kolors at 1024x1024…\n\n",
      );
    }
  }
});

Deno.test("chat stream parsed by the openai SDK yields the Markdown answer", async () => {
  await using gw = await startGateway();
  const stream = await sdk(gw).chat.completions.create({
    model: "Kwai-Kolors/Kolors",
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: "a red fox" }],
  });
  let content = "";
  let reasoning = "";
  let finish: string | null = null;
  let usage: unknown;
  for await (const c of stream) {
    const choice = c.choices[0];
    content += choice?.delta.content ?? "";
    reasoning += (choice?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ??
      "";
    finish = choice?.finish_reason ?? finish;
    usage = c.usage ?? usage;
  }
  assert.match(content, /^!\[a red fox\]\(http:\/\/gateway\.test\/i\/[A-Za-z0-9_-]{16}\.png\)$/);
  assert.match(reasoning, /^Generating 1 image with Kwai-Kolors\/Kolors at 1024x1024…\nDone in/);
  assert.equal(finish, "stop");
  assert.deepEqual(usage, { prompt_tokens: 3, completion_tokens: 14, total_tokens: 17 });
});

Deno.test("chat stream sends keep-alive comments while SiliconFlow is slow", async () => {
  await using gw = await startGateway({
    env: { SSE_KEEPALIVE_SECONDS: "0.05" },
    fake: { delayMs: 400 },
  });
  const { data, comments, order } = await readSse(await gw.post(CHAT, REQUEST));
  assert.ok(comments.length >= 4, `only ${comments.length} keep-alives`);
  assert.ok(comments.every((c) => c === "keep-alive"));
  // They come between the first chunk and the answer, never after [DONE].
  assert.equal(order[0], "data");
  assert.equal(order.at(-1), "data");
  assert.equal(data.at(-1), "[DONE]");
});

Deno.test("chat stream reports an upstream failure as a final chunk with an error, then [DONE]", async () => {
  await using gw = await startGateway({ env: NO_RETRIES });
  gw.fake.failNext({
    status: 503,
    body: { code: 50505, message: "Model service overloaded. Please try again later." },
  });
  const res = await gw.post(CHAT, REQUEST);
  assert.equal(res.status, 200);
  const { data } = await readSse(res);
  assert.equal(data.at(-1), "[DONE]");
  const last = data.at(-2) as Chunk;
  const message =
    "SiliconFlow is overloaded; try again later. SiliconFlow said: Model service overloaded. " +
    "Please try again later. (code 50505)";
  assert.deepEqual(last.choices, [{
    index: 0,
    delta: { content: `⚠️ ${message}` },
    logprobs: null,
    finish_reason: "stop",
  }]);
  assert.deepEqual(last.error, {
    message,
    type: "upstream_error",
    param: null,
    code: "siliconflow_50505",
  });
});

Deno.test("chat stream errors reach openai SDK users as an APIError", async () => {
  await using gw = await startGateway();
  gw.fake.failNext({ status: 403, body: '"Forbidden"' });
  const stream = await sdk(gw).chat.completions.create({
    model: "Kwai-Kolors/Kolors",
    stream: true,
    messages: [{ role: "user", content: "x" }],
  });
  await assert.rejects(async () => {
    for await (const _ of stream) { /* drain */ }
  }, (err: unknown) => err instanceof OpenAI.APIError && /Forbidden/.test(err.message));
});

Deno.test("chat stream errors found before the stream starts are plain OpenAI errors", async () => {
  await using gw = await startGateway();
  const res = await gw.post(CHAT, {
    model: "Qwen/Qwen-Image-Edit",
    stream: true,
    messages: [{ role: "user", content: "make it blue" }],
  });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal((await res.json()).error.code, "missing_image");
});

Deno.test("chat stream whose client leaves after SiliconFlow took the call still stores the image", async () => {
  await using gw = await startGateway({ fake: { delayMs: 300 } });
  const res = await gw.post(CHAT, REQUEST);
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.match(first, /^data: \{"id":"chatcmpl-/);
  // Leave once SiliconFlow is working on it: that call is billed, so its image is kept.
  while (gw.fake.generationCalls.length === 0) await new Promise((r) => setTimeout(r, 5));
  await reader.cancel();
  for (let i = 0; i < 100 && gw.log.lines.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(gw.fake.generationCalls.length, 1);
  assert.equal((await Array.fromAsync(gw.kv.list({ prefix: ["img"] }))).length, 1);
  assert.equal((await Array.fromAsync(gw.kv.list({ prefix: ["undelivered"] }))).length, 1);
  assert.match(gw.log.lines[0], /^POST \/v1\/chat\/completions 499 \d+ms undelivered$/);
  assert.deepEqual(gw.log.errors, []);
});
