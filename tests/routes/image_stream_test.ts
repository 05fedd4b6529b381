/**
 * `stream: true` on the Images API: OpenAI's `image_generation.completed` / `image_edit.completed`
 * events, emulated over SiliconFlow, read raw and through the openai SDK.
 *
 * @module
 */
import assert from "node:assert/strict";
import OpenAI, { toFile } from "openai";
import {
  API_HEADERS,
  assertOpenAIError,
  bytesOf,
  headersOf,
  linkPath,
  openaiClient,
  startGateway,
} from "../_support/gateway.ts";
import { base64Of, tinyJpeg, tinyPng } from "../_support/images.ts";
import { readSse } from "../_support/sse.ts";

const GENERATIONS = "/v1/images/generations";

const sdk = openaiClient;

interface Completed {
  type: string;
  b64_json: string;
  url: string;
  created_at: number;
  size: string;
  quality: string;
  background: string;
  output_format: string;
  usage: unknown;
}

Deno.test("stream: true answers one image_generation.completed event per image, then [DONE]", async () => {
  await using gw = await startGateway();
  const res = await gw.post(GENERATIONS, {
    model: "Kwai-Kolors/Kolors",
    prompt: "a fox",
    n: 2,
    stream: true,
    partial_images: 2,
  });
  assert.equal(res.status, 200);
  assert.deepEqual(headersOf(res), {
    ...API_HEADERS,
    "cache-control": "no-cache",
    "content-type": "text/event-stream; charset=utf-8",
    "x-accel-buffering": "no",
  });
  const { data, events } = await readSse(res);
  assert.deepEqual(events, ["image_generation.completed", "image_generation.completed", undefined]);
  assert.equal(data[2], "[DONE]");
  for (const event of data.slice(0, 2) as Completed[]) {
    assert.deepEqual(event, {
      type: "image_generation.completed",
      b64_json: base64Of(tinyPng),
      url: event.url,
      created_at: event.created_at,
      size: "1024x1024",
      quality: "auto",
      background: "auto",
      output_format: "png",
      usage: {
        input_tokens: 0,
        output_tokens: 0,
        total_tokens: 0,
        input_tokens_details: { text_tokens: 0, image_tokens: 0 },
      },
    });
    const image = await gw.get(linkPath(event.url), { key: null });
    assert.deepEqual(await bytesOf(image), tinyPng);
  }
});

Deno.test("stream: true sends keep-alive comments while SiliconFlow works", async () => {
  await using gw = await startGateway({
    env: { SSE_KEEPALIVE_SECONDS: "0.05" },
    fake: { delayMs: 300 },
  });
  const { comments, order } = await readSse(
    await gw.post(GENERATIONS, { prompt: "a fox", stream: "true" }),
  );
  assert.ok(comments.length >= 3, `${comments.length} keep-alives`);
  assert.equal(order[0], "comment");
  assert.equal(order.at(-1), "data");
});

Deno.test("stream: true reports upstream failures as an error event", async () => {
  await using gw = await startGateway();
  gw.fake.failNext({ status: 429, body: { message: "IPM limit reached." } });
  const { data, events } = await readSse(await gw.post(GENERATIONS, { prompt: "x", stream: true }));
  assert.deepEqual(events, ["error", undefined]);
  assert.deepEqual(data[0], {
    type: "error",
    error: {
      message: "SiliconFlow's rate limit was reached. SiliconFlow said: IPM limit reached.",
      type: "rate_limit_error",
      param: null,
      code: "rate_limit_exceeded",
    },
  });
});

Deno.test("stream: true still answers bad requests with a plain 400 before any stream", async () => {
  await using gw = await startGateway();
  await assertOpenAIError(await gw.post(GENERATIONS, { prompt: "x", n: 9, stream: true }), 400, {
    param: "n",
  });
});

Deno.test("openai SDK images.generate({stream: true}) yields completed events with b64_json", async () => {
  await using gw = await startGateway({ fake: { image: () => tinyJpeg } });
  const stream = await sdk(gw).images.generate({
    model: "Qwen/Qwen-Image",
    prompt: "a lighthouse",
    stream: true,
  });
  const events = [];
  for await (const event of stream) events.push(event);
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "image_generation.completed");
  assert.equal(events[0].b64_json, base64Of(tinyJpeg));
  assert.equal(events[0].output_format, "jpeg");
  assert.equal(events[0].size, "1328x1328");
});

Deno.test("openai SDK images.edit({stream: true}) yields image_edit.completed", async () => {
  await using gw = await startGateway();
  const stream = await sdk(gw).images.edit({
    model: "Qwen/Qwen-Image-Edit",
    image: await toFile(tinyPng, "a.png", { type: "image/png" }),
    prompt: "make it blue",
    stream: true,
  });
  const events = [];
  for await (const event of stream) events.push(event);
  assert.deepEqual(events.map((e) => e.type), ["image_edit.completed"]);
  assert.equal(events[0].b64_json, base64Of(tinyPng));
  assert.equal(gw.fake.generationCalls[0].body.image, `data:image/png;base64,${base64Of(tinyPng)}`);
});

Deno.test("openai SDK stream errors surface as an APIError", async () => {
  await using gw = await startGateway();
  gw.fake.failNext({ status: 403, body: '"Forbidden"' });
  const stream = await sdk(gw).images.generate({
    model: "Kwai-Kolors/Kolors",
    prompt: "x",
    stream: true,
  });
  await assert.rejects(async () => {
    for await (const _ of stream) { /* drain */ }
  }, (err: unknown) => err instanceof OpenAI.APIError && /Forbidden/.test(err.message));
});

Deno.test("stream events carry the durable url even when b64_json was asked for", async () => {
  await using gw = await startGateway();
  const { data } = await readSse(
    await gw.post(GENERATIONS, { prompt: "x", stream: true, response_format: "b64_json" }),
  );
  const event = data[0] as Completed;
  assert.equal(event.b64_json, base64Of(tinyPng));
  linkPath(event.url);
});

Deno.test("a stream whose image never downloaded hands over SiliconFlow's link, flagged as a fallback", async () => {
  await using gw = await startGateway({ fake: { imageTtlMs: 0 } });
  const { data, events } = await readSse(await gw.post(GENERATIONS, { prompt: "x", stream: true }));
  assert.deepEqual(events, ["image_generation.completed", undefined]);
  const event = data[0] as Completed & { storage: string };
  assert.equal(event.storage, "upstream-fallback");
  assert.equal(event.b64_json, "");
  const origin = new URL(gw.fake.baseUrl).origin;
  assert.ok(event.url.startsWith(`${origin}/outputs/`), event.url);
  assert.match(event.url, /_0\.png\?OSSAccessKeyId=LTAI5tFake&Expires=\d+&Signature=/);
  assert.equal(data[1], "[DONE]");
  assert.deepEqual(await Array.fromAsync(gw.kv.list({ prefix: ["img"] })), []);
  assert.equal(gw.log.warnings.length, 1);
  assert.match(gw.log.warnings[0], /^image not stored, answering with the upstream link: /);
});
