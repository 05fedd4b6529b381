/**
 * The Vercel AI SDK 7 for real (`ai`, `@ai-sdk/openai` 4.x, `@ai-sdk/openai-compatible` 3.x)
 * against the gateway over a real socket, as Cherry Studio and other AI-SDK apps use it: from a
 * server runtime, whose User-Agent names the SDK, and from a browser or Electron window, where
 * Chromium drops the User-Agent the SDK sets and the browser's own is sent instead.
 *
 * What the SDK needs (vercel/ai `packages/openai/src/image/openai-image-model.ts`): `@ai-sdk/openai`
 * parses only `data[].b64_json`, and sends `response_format: "b64_json"` only for models that are
 * not `gpt-image-*`/`chatgpt-image-*`, and never on edits; `@ai-sdk/openai-compatible` 3.x sends
 * none (`packages/openai-compatible/src/image/openai-compatible-image-model.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateImage, streamText } from "ai";
import { GATEWAY_KEY, listen, startGateway } from "../_support/gateway.ts";
import { tinyJpeg, tinyPng } from "../_support/images.ts";

const CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " +
  "CherryStudio/1.9.4 Chrome/138.0.7204.251 Electron/37.6.0 Safari/537.36";

/** `fetch` as in a browser: the User-Agent the SDK set is replaced by the browser's own. */
const browserFetch: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.set("user-agent", CHROME);
  return fetch(input, { ...init, headers });
};

Deno.test("AI SDK 7 from a server: generations (Kolors, gpt-image-1) and an edit get their base64", async () => {
  await using gw = await startGateway({ env: { MODEL_ALIASES: "gpt-image-1=Qwen/Qwen-Image" } });
  await using server = listen(gw);
  const agents: string[] = [];
  const openai = createOpenAI({
    baseURL: `${server.origin}/v1`,
    apiKey: GATEWAY_KEY,
    fetch: (input, init) => {
      agents.push(new Headers(init?.headers).get("user-agent") ?? "");
      return fetch(input, init);
    },
  });
  for (const id of ["Kwai-Kolors/Kolors", "gpt-image-1"]) {
    const { images } = await generateImage({
      model: openai.image(id),
      prompt: "a red fox",
      size: "1024x1024",
      maxRetries: 0,
    });
    assert.equal(images.length, 1, id);
    assert.deepEqual(images[0].uint8Array, tinyPng, id);
    assert.equal(images[0].mediaType, "image/png", id);
  }
  const edited = await generateImage({
    model: openai.image("Qwen/Qwen-Image-Edit"),
    prompt: { text: "make it blue", images: [tinyJpeg] },
    maxRetries: 0,
  });
  assert.deepEqual(edited.images[0].uint8Array, tinyPng);
  // What the SDK sent: b64_json asked for Kolors only; the edit as multipart with the file.
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.body.model), [
    "Kwai-Kolors/Kolors",
    "Qwen/Qwen-Image",
    "Qwen/Qwen-Image-Edit",
  ]);
  assert.match(String(gw.fake.generationCalls[2].body.image), /^data:image\/jpeg;base64,/);
  assert.ok(agents.every((a) => /^ai\/7\.\d+\.\d+ ai-sdk-provider-utils\/5\./.test(a)), agents[0]);
  // Every image is stored behind a durable link, whichever field the SDK reads.
  assert.equal(await countStored(gw.kv), 3);
});

Deno.test("AI SDK 7 from a browser window: B64_BY_DEFAULT=true is what makes edits work", async () => {
  {
    await using gw = await startGateway();
    await using server = listen(gw);
    const openai = createOpenAI({
      baseURL: `${server.origin}/v1`,
      apiKey: GATEWAY_KEY,
      fetch: browserFetch,
    });
    // The SDK asks for b64_json on generations, and gpt-image ids are answered in it anyway.
    for (const id of ["Kwai-Kolors/Kolors", "gpt-image-1"]) {
      const { images } = await generateImage({
        model: openai.image(id),
        prompt: "x",
        maxRetries: 0,
      });
      assert.deepEqual(images[0].uint8Array, tinyPng, id);
    }
    // An edit names no format, and the browser hides the SDK: the url-only answer fails to parse.
    await assert.rejects(
      generateImage({
        model: openai.image("Qwen/Qwen-Image-Edit"),
        prompt: { text: "make it blue", images: [tinyPng] },
        maxRetries: 0,
      }),
      (err: Error) => err.name === "AI_APICallError" && /Invalid JSON response/.test(err.message),
    );
  }
  {
    await using gw = await startGateway({ env: { B64_BY_DEFAULT: "true" } });
    await using server = listen(gw);
    const openai = createOpenAI({
      baseURL: `${server.origin}/v1`,
      apiKey: GATEWAY_KEY,
      fetch: browserFetch,
    });
    const { images } = await generateImage({
      model: openai.image("Qwen/Qwen-Image-Edit"),
      prompt: { text: "make it blue", images: [tinyPng] },
      maxRetries: 0,
    });
    assert.deepEqual(images[0].uint8Array, tinyPng);
    assert.equal(gw.fake.generationCalls.length, 1);
  }
});

Deno.test("@ai-sdk/openai-compatible 3.x: images with no response_format, and a streamed chat answer", async () => {
  await using gw = await startGateway();
  await using server = listen(gw);
  for (const fetcher of [fetch, browserFetch]) {
    const provider = createOpenAICompatible({
      name: "sf-image-gateway",
      baseURL: `${server.origin}/v1`,
      apiKey: GATEWAY_KEY,
      fetch: fetcher,
    });
    const { images } = await generateImage({
      model: provider.imageModel("Qwen/Qwen-Image"),
      prompt: "a lighthouse",
      maxRetries: 0,
    });
    assert.deepEqual(images[0].uint8Array, tinyPng);
    // Cherry Studio's chat: streamText over chat completions, answered with a Markdown image.
    const result = streamText({
      model: provider.chatModel("Kwai-Kolors/Kolors"),
      prompt: "a cat in the rain",
      maxRetries: 0,
    });
    let text = "";
    for await (const part of result.textStream) text += part;
    assert.match(
      text,
      new RegExp(`^!\\[a cat in the rain\\]\\(${server.origin}/i/[\\w-]{16}\\.png\\)$`),
    );
    const image = await fetch(text.slice(text.indexOf("(") + 1, -1));
    assert.equal(image.headers.get("content-type"), "image/png");
    assert.deepEqual(new Uint8Array(await image.arrayBuffer()), tinyPng);
  }
});

async function countStored(kv: Deno.Kv): Promise<number> {
  let count = 0;
  for await (const _ of kv.list({ prefix: ["img"] }, { limit: 100 })) count++;
  return count;
}
