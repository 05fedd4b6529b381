/**
 * `POST /v1/chat/completions` answering with Markdown images: reading the conversation, input
 * images and multi-turn edits, parameters from the body and the prompt, non-streamed answers.
 * Streaming is in `chat_stream_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  assertOpenAIError,
  bytesOf,
  linkPath,
  startGateway,
  type TestGateway,
} from "./_helpers.ts";
import { tinyJpeg, tinyPng, tinyWebp } from "./_images.ts";
import { toBase64 } from "../lib/images_response.ts";
import { sizeForRatio } from "../lib/model_catalog.ts";

const CHAT = "/v1/chat/completions";

function dataUri(bytes: Uint8Array, type: string): string {
  return `data:${type};base64,${toBase64(bytes)}`;
}

async function ask(gw: TestGateway, body: Record<string, unknown>) {
  const res = await gw.post(CHAT, body);
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json();
}

/** The links in an answer's Markdown, in order. */
function links(content: string): string[] {
  return [...content.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
}

Deno.test("chat answers a chat.completion whose content is Markdown with durable links", async () => {
  await using gw = await startGateway();
  const body = await ask(gw, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a red fox in snow" }],
  });
  assert.match(body.id, /^chatcmpl-[0-9a-f]{32}$/);
  assert.equal(typeof body.created, "number");
  const content = body.choices[0].message.content;
  const [url] = links(content);
  assert.deepEqual(body, {
    id: body.id,
    object: "chat.completion",
    created: body.created,
    model: "Kwai-Kolors/Kolors",
    choices: [{
      index: 0,
      message: { role: "assistant", content: `![a red fox in snow](${url})` },
      logprobs: null,
      finish_reason: "stop",
    }],
    usage: { prompt_tokens: 5, completion_tokens: 16, total_tokens: 21 },
  });
  gw.fake.expireAllLinks();
  const image = await gw.get(linkPath(url), { key: null });
  assert.deepEqual(await bytesOf(image), tinyPng);
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.body), [{
    model: "Kwai-Kolors/Kolors",
    prompt: "a red fox in snow",
    image_size: "1024x1024",
    batch_size: 1,
  }]);
});

Deno.test("chat prompts come from the latest user message only, with its text parts joined in order", async () => {
  await using gw = await startGateway();
  await ask(gw, {
    model: "Qwen/Qwen-Image",
    messages: [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: "a castle" },
      { role: "assistant", content: "Sure!" },
      {
        role: "user",
        content: [
          { type: "text", text: "a lighthouse" },
          { type: "text", text: "at dusk, oil painting" },
        ],
      },
    ],
  });
  assert.equal(gw.fake.generationCalls[0].body.prompt, "a lighthouse\nat dusk, oil painting");
});

Deno.test("chat treats a bare URL in the text as text, not as an input image", async () => {
  await using gw = await startGateway();
  await ask(gw, {
    model: "Qwen/Qwen-Image",
    messages: [{ role: "user", content: "a poster for https://example.com/launch" }],
  });
  const call = gw.fake.generationCalls[0].body;
  assert.equal(call.prompt, "a poster for https://example.com/launch");
  assert.equal(call.image, undefined);
});

Deno.test("chat edits with up to three images from the latest message: parts, input_image and Markdown", async () => {
  await using gw = await startGateway();
  await ask(gw, {
    model: "Qwen/Qwen-Image-Edit-2509",
    messages: [{
      role: "user",
      content: [
        {
          type: "text",
          text: "put the cat from image 1 on the sofa from image 2 ![](https://cdn.example/c.png)",
        },
        { type: "image_url", image_url: { url: dataUri(tinyJpeg, "image/jpeg") } },
        { type: "input_image", image_url: "https://cdn.example/sofa.webp" },
      ],
    }],
  });
  assert.deepEqual(gw.fake.generationCalls[0].body, {
    model: "Qwen/Qwen-Image-Edit-2509",
    prompt: "put the cat from image 1 on the sofa from image 2",
    image: "https://cdn.example/c.png",
    image2: dataUri(tinyJpeg, "image/jpeg"),
    image3: "https://cdn.example/sofa.webp",
  });
});

Deno.test("chat refuses too many, missing, or unwanted input images with a clear 400", async () => {
  await using gw = await startGateway();
  const image = { type: "image_url", image_url: { url: "https://cdn.example/a.png" } };
  const cases: [string, unknown, string, RegExp][] = [
    [
      "Qwen/Qwen-Image-Edit-2509",
      [{ type: "text", text: "merge" }, image, image, image, image],
      "too_many_images",
      /takes at most 3 input image\(s\); the message has 4/,
    ],
    ["Qwen/Qwen-Image-Edit", "make it blue", "missing_image", /edits images: attach 1 image/],
    [
      "Qwen/Qwen-Image",
      [{ type: "text", text: "like this" }, image],
      "too_many_images",
      /does not take input images/,
    ],
  ];
  for (const [model, content, code, message] of cases) {
    await assertOpenAIError(
      await gw.post(CHAT, { model, messages: [{ role: "user", content }] }),
      400,
      { param: "messages", code, message },
    );
  }
  assert.equal(gw.fake.generationCalls.length, 0);
});

Deno.test("chat edits our own previous image when the follow-up has none, sending it inline", async () => {
  await using gw = await startGateway({ fake: { image: (i) => (i === 0 ? tinyWebp : tinyPng) } });
  const first = await ask(gw, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a cat on a roof" }],
  });
  const answer = first.choices[0].message.content;
  gw.fake.expireAllLinks();
  await ask(gw, {
    model: "Qwen/Qwen-Image-Edit",
    messages: [
      { role: "user", content: "a cat on a roof" },
      { role: "assistant", content: answer },
      { role: "user", content: "now make the sky purple" },
    ],
  });
  assert.deepEqual(gw.fake.generationCalls[1].body, {
    model: "Qwen/Qwen-Image-Edit",
    prompt: "now make the sky purple",
    image: dataUri(tinyWebp, "image/webp"),
  });
});

Deno.test("chat reads our own link from KV even when the memory cache no longer has it", async () => {
  await using gw = await startGateway({ env: { IMAGE_CACHE_MB: "0" } });
  const first = await ask(gw, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a boat" }],
  });
  const [url] = links(first.choices[0].message.content);
  await ask(gw, {
    model: "Qwen/Qwen-Image-Edit",
    messages: [{
      role: "user",
      content: [{ type: "text", text: "add a sail" }, { type: "image_url", image_url: { url } }],
    }],
  });
  assert.equal(gw.fake.generationCalls[1].body.image, dataUri(tinyPng, "image/png"));
});

Deno.test("chat takes parameters from the body, as Cherry Studio's custom parameters send them", async () => {
  await using gw = await startGateway();
  await ask(gw, {
    model: "Qwen/Qwen-Image",
    messages: [{ role: "user", content: "a temple" }],
    temperature: 0.7,
    max_tokens: 1000,
    seed: "42",
    sf_num_steps: "30",
    size: "1584x1056",
    extra_body: '{"negative_prompt": "blurry", "cfg": "4.5"}',
  });
  assert.deepEqual(gw.fake.generationCalls[0].body, {
    model: "Qwen/Qwen-Image",
    prompt: "a temple",
    image_size: "1584x1056",
    negative_prompt: "blurry",
    num_inference_steps: 30,
    cfg: 4.5,
    seed: 42,
  });
});

Deno.test("chat prompt flags win over body parameters and are removed from the prompt", async () => {
  await using gw = await startGateway();
  await ask(gw, {
    model: "Qwen/Qwen-Image",
    messages: [{
      role: "user",
      content: 'a cat --ar 16:9 --seed 7 --steps 25 --cfg 4 --neg "blurry, text"',
    }],
    seed: 1,
    size: "1328x1328",
    negative_prompt: "low quality",
  });
  assert.deepEqual(gw.fake.generationCalls[0].body, {
    model: "Qwen/Qwen-Image",
    prompt: "a cat",
    image_size: "1664x928",
    negative_prompt: "blurry, text",
    num_inference_steps: 25,
    cfg: 4,
    seed: 7,
  });
});

Deno.test("chat maps --cfg to guidance_scale for Kolors, and pic:N to a batch", async () => {
  await using gw = await startGateway();
  const body = await ask(gw, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "画一只可爱的猫咪，9:16比例 pic:2 --cfg 6" }],
  });
  assert.equal(links(body.choices[0].message.content).length, 2);
  const call = gw.fake.generationCalls[0].body;
  assert.equal(call.batch_size, 2);
  assert.equal(call.guidance_scale, 6);
  assert.equal(call.cfg, undefined);
  assert.equal(call.image_size, sizeForRatio("Kwai-Kolors/Kolors", 9, 16));
  assert.equal(call.image_size, "720x1280");
});

Deno.test("chat turns ratios and shape words into each model's own recommended size", async () => {
  await using gw = await startGateway();
  const cases: [string, string, string][] = [
    ["Qwen/Qwen-Image", "a city skyline, 16:9", "1664x928"],
    ["Qwen/Qwen-Image", "一只猫，竖屏", "928x1664"],
    ["Qwen/Qwen-Image", "正方形的头像", "1328x1328"],
    ["Qwen/Qwen-Image", "a poster, landscape", "1664x928"],
    ["Kwai-Kolors/Kolors", "a portrait of a knight, portrait", "720x1280"],
    ["Qwen/Qwen-Image", "meet me at 10:30 by the lighthouse", "1328x1328"],
  ];
  for (const [model, content] of cases) {
    await ask(gw, { model, messages: [{ role: "user", content }] });
  }
  assert.deepEqual(
    gw.fake.generationCalls.map((c) => c.body.image_size),
    cases.map(([, , size]) => size),
  );
  assert.equal(gw.fake.generationCalls[5].body.prompt, "meet me at 10:30 by the lighthouse");
});

Deno.test("chat sends edit models no size, whatever the prompt or body asks", async () => {
  await using gw = await startGateway();
  await ask(gw, {
    model: "Qwen/Qwen-Image-Edit",
    size: "1024x1024",
    messages: [{
      role: "user",
      content: [
        { type: "text", text: "make it snowy --ar 16:9" },
        { type: "image_url", image_url: { url: "https://cdn.example/a.png" } },
      ],
    }],
  });
  assert.deepEqual(gw.fake.generationCalls[0].body, {
    model: "Qwen/Qwen-Image-Edit",
    prompt: "make it snowy",
    image: "https://cdn.example/a.png",
  });
});

Deno.test("chat runs pic:N images of models without batches in parallel, capped", async () => {
  await using gw = await startGateway({ fake: { delayMs: 50 } });
  const body = await ask(gw, {
    model: "Qwen/Qwen-Image",
    messages: [{ role: "user", content: "a tree pic:3" }],
  });
  assert.equal(links(body.choices[0].message.content).length, 3);
  assert.equal(gw.fake.maxInFlight, 3);
  await assertOpenAIError(
    await gw.post(CHAT, {
      model: "Qwen/Qwen-Image",
      messages: [{ role: "user", content: "a tree --n 5" }],
    }),
    400,
    { param: "n", code: "too_many_images" },
  );
});

Deno.test("chat alt text follows MARKDOWN_ALT and never breaks the Markdown", async () => {
  for (
    const [alt, expected] of [
      ["prompt", "a cat  with a hat"],
      ["numbered", "image1|a cat  with a hat"],
      ["plain", "image"],
    ] as const
  ) {
    await using gw = await startGateway({ env: { MARKDOWN_ALT: alt } });
    const body = await ask(gw, {
      model: "Kwai-Kolors/Kolors",
      messages: [{ role: "user", content: "a cat [with] a hat" }],
    });
    const content: string = body.choices[0].message.content;
    assert.equal(content, `![${expected.replace("  ", " ")}](${links(content)[0]})`, alt);
  }
});

Deno.test("chat refuses a prompt with a banned keyword before any upstream call", async () => {
  await using gw = await startGateway({ env: { BANNED_KEYWORDS: "gore, 血腥" } });
  for (const content of ["a GORE scene", "一个血腥的场面"]) {
    for (const stream of [false, true]) {
      await assertOpenAIError(
        await gw.post(CHAT, {
          model: "Kwai-Kolors/Kolors",
          stream,
          messages: [{ role: "user", content }],
        }),
        400,
        { param: "prompt", code: "content_policy_violation", type: "invalid_request_error" },
      );
    }
  }
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("chat answers 400s for malformed requests", async () => {
  await using gw = await startGateway();
  const cases: [unknown, string | null, RegExp][] = [
    [{ messages: [{ role: "user", content: "x" }] }, "model", /model is required/],
    [{ model: "Kwai-Kolors/Kolors", messages: [] }, "messages", /must not be empty/],
    [{ model: "Kwai-Kolors/Kolors", messages: "hi" }, "messages", /must be an array/],
    [
      { model: "Kwai-Kolors/Kolors", messages: [{ role: "user", content: "--seed 3" }] },
      "messages",
      /no text to turn into an image/,
    ],
    [
      { model: "Kwai-Kolors/Kolors", messages: [{ role: "assistant", content: "hello" }] },
      "messages",
      /no text to turn into an image/,
    ],
    [
      { model: "Kwai-Kolors/Kolors", messages: [{ role: "user", content: "x" }], seed: -4 },
      "seed",
      /seed must be between/,
    ],
    [
      { model: "Kwai-Kolors/Kolors", messages: [{ role: "user", content: "x" }], extra_body: "{" },
      "extra_body",
      /extra_body must be a JSON object/,
    ],
  ];
  for (const [body, param, message] of cases) {
    await assertOpenAIError(await gw.post(CHAT, body), 400, { param, message });
  }
  assert.equal(gw.fake.generationCalls.length, 0);
});

Deno.test("chat translates upstream failures into OpenAI errors", async () => {
  await using gw = await startGateway();
  gw.fake.failNext({ status: 429, body: { message: "IPM limit reached." } });
  const res = await gw.post(CHAT, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "x" }],
  });
  assert.equal(res.headers.get("retry-after"), "20");
  await assertOpenAIError(res, 429, { code: "rate_limit_exceeded" });
});

Deno.test("chat needs the client key in pool mode", async () => {
  await using gw = await startGateway();
  const res = await gw.post(CHAT, { model: "Kwai-Kolors/Kolors", messages: [] }, { key: null });
  await assertOpenAIError(res, 401, { code: "invalid_api_key" });
});
