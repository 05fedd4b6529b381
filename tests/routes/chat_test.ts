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
  failingWrites,
  linkPath,
  startGateway,
  type TestGateway,
} from "../_support/gateway.ts";
import { base64Of, tinyJpeg, tinyPng, tinyWebp } from "../_support/images.ts";
import { sizeForRatio } from "../../lib/generation/model_catalog.ts";

/** For tests of what a failure becomes: the failure is not retried away. */
const NO_RETRIES = { UPSTREAM_RETRIES: "0" };

const CHAT = "/v1/chat/completions";

function dataUri(bytes: Uint8Array, type: string): string {
  return `data:${type};base64,${base64Of(bytes)}`;
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

Deno.test("chat refuses a prompt over 32,000 characters before reading it", async () => {
  await using gw = await startGateway();
  await assertOpenAIError(
    await gw.post(CHAT, {
      model: "Kwai-Kolors/Kolors",
      messages: [{ role: "user", content: "1:1 ".repeat(10_001) }],
    }),
    400,
    { param: "messages", code: "prompt_too_long" },
  );
});

Deno.test("chat reads an adversarial history of unclosed Markdown images in linear time", async () => {
  await using gw = await startGateway();
  const started = performance.now();
  await ask(gw, {
    model: "Kwai-Kolors/Kolors",
    messages: [
      { role: "user", content: "![".repeat(200_000) },
      {
        role: "assistant",
        content: `![x](${dataUri(tinyPng, "image/png")})${"![".repeat(100_000)}`,
      },
      { role: "user", content: "a cat" },
    ],
  });
  // A guard against quadratic blow-up (seconds), not a speed target: it takes milliseconds.
  assert.ok(performance.now() - started < 2000);
  assert.equal(gw.fake.generationCalls[0].body.prompt, "a cat");
});

Deno.test("chat snaps explicit sizes to one the model lists, and treats auto as its default", async () => {
  await using gw = await startGateway();
  const cases: [string, Record<string, unknown>, string][] = [
    ["a cat 1920x1080", {}, "1024x1024"], // Kolors has no landscape size
    ["a cat --size 1024x768", {}, "1024x1024"],
    ["a cat", { size: "512x512" }, "1024x1024"],
    ["a cat", { size: "720x1280" }, "720x1280"],
    ["a cat", { size: "auto" }, "1024x1024"],
  ];
  for (const [content, extra] of cases) {
    await ask(gw, { model: "Kwai-Kolors/Kolors", messages: [{ role: "user", content }], ...extra });
  }
  await ask(gw, {
    model: "Qwen/Qwen-Image",
    messages: [{ role: "user", content: "a cat" }],
    size: "1792x1024",
  });
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.body.image_size), [
    ...cases.map(([, , size]) => size),
    "1664x928",
  ]);
});

Deno.test("chat names guidance as each model does, whoever sends it", async () => {
  await using gw = await startGateway();
  const kolors = (extra: Record<string, unknown>, content = "x") =>
    ask(gw, { model: "Kwai-Kolors/Kolors", messages: [{ role: "user", content }], ...extra });
  await kolors({ cfg: 4 });
  await kolors({ cfg: 4 }, "x --cfg 6");
  await ask(gw, {
    model: "Qwen/Qwen-Image",
    messages: [{ role: "user", content: "x" }],
    guidance_scale: "5",
  });
  const guidance = gw.fake.generationCalls.map(({ body }) => [body.cfg, body.guidance_scale]);
  assert.deepEqual(guidance, [[undefined, 4], [undefined, 6], [5, undefined]]);
});

Deno.test("chat answers never carry data URIs; unstored images get their temporary link and a note", async () => {
  await using gw = await startGateway({ wrapKv: failingWrites });
  const body = await ask(gw, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a cat" }],
  });
  const content: string = body.choices[0].message.content;
  assert.match(
    content,
    /^!\[a cat\]\(http:\/\/127\.0\.0\.1:\d+\/outputs\/[^)]+\)\n\n⚠️ 1 image\(s\) could not be stored; their links expire in about an hour, so save them now\.$/,
  );

  gw.fake.failNext({
    status: 200,
    body: { images: [{ b64_json: base64Of(tinyPng) }], seed: 1 },
  });
  const b64 = await ask(gw, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a cat" }],
  });
  assert.equal(
    b64.choices[0].message.content,
    "\n\n⚠️ 1 image(s) were made but could not be stored or linked.",
  );
});

Deno.test("chat reports images of failed parallel calls under the ones that worked", async () => {
  await using gw = await startGateway({ env: NO_RETRIES });
  gw.fake.failNext({ status: 503, body: { code: 50505, message: "Model service overloaded." } });
  const body = await ask(gw, {
    model: "Qwen/Qwen-Image",
    messages: [{ role: "user", content: "a cat pic:2" }],
  });
  const content: string = body.choices[0].message.content;
  assert.equal(links(content).length, 1);
  assert.match(content, /\n\n⚠️ 1 of 2 requests to SiliconFlow failed: SiliconFlow is overloaded/);
});

Deno.test("chat ignores null and unknown content parts instead of failing", async () => {
  await using gw = await startGateway();
  await ask(gw, {
    model: "Kwai-Kolors/Kolors",
    messages: [{
      role: "user",
      content: [
        { type: "image_url", image_url: null },
        { type: "input_image", image_url: null },
        { type: "audio", data: "…" },
        { type: "input_text", text: "a cat" },
      ],
    }],
  });
  assert.equal(gw.fake.generationCalls[0].body.prompt, "a cat");
  await assertOpenAIError(
    await gw.post(CHAT, {
      model: "Qwen/Qwen-Image-Edit",
      messages: [{
        role: "user",
        content: [{ type: "text", text: "blue" }, { type: "image_url", image_url: null }],
      }],
    }),
    400,
    { code: "missing_image" },
  );
});

Deno.test("chat refuses input images that are neither web links nor image data", async () => {
  await using gw = await startGateway();
  await assertOpenAIError(
    await gw.post(CHAT, {
      model: "Qwen/Qwen-Image-Edit",
      messages: [{
        role: "user",
        content: [{ type: "text", text: "blue" }, {
          type: "image_url",
          image_url: "file:///etc/passwd",
        }],
      }],
    }),
    400,
    { param: "messages", code: "invalid_image", message: /^Input image 1 cannot be used/ },
  );
});

Deno.test("chat takes input images from body fields when the message has none", async () => {
  await using gw = await startGateway();
  await ask(gw, {
    model: "Qwen/Qwen-Image-Edit-2509",
    messages: [{ role: "user", content: "merge them" }],
    images: ["https://cdn.example/a.png", "https://cdn.example/b.png"],
  });
  const call = gw.fake.generationCalls[0].body;
  assert.deepEqual([call.image, call.image2], [
    "https://cdn.example/a.png",
    "https://cdn.example/b.png",
  ]);
});

Deno.test("chat reads parameters from every container clients use", async () => {
  await using gw = await startGateway();
  for (const container of ["parameters", "image_params", "sf_params"]) {
    await ask(gw, {
      model: "Kwai-Kolors/Kolors",
      messages: [{ role: "user", content: "x" }],
      [container]: { seed: 11, negative_prompt: "fog" },
    });
  }
  for (const call of gw.fake.generationCalls) {
    assert.equal(call.body.seed, 11);
    assert.equal(call.body.negative_prompt, "fog");
  }
});

Deno.test("chat inlines its own links under a PUBLIC_BASE_URL path, and refuses expired ones", async () => {
  await using gw = await startGateway({ env: { PUBLIC_BASE_URL: "https://img.example/gw" } });
  const first = await ask(gw, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a boat" }],
  });
  const [url] = links(first.choices[0].message.content);
  assert.match(url, /^https:\/\/img\.example\/gw\/i\/[\w-]{16}\.png$/);
  const edit = (image: string) =>
    gw.post(CHAT, {
      model: "Qwen/Qwen-Image-Edit",
      messages: [{
        role: "user",
        content: [{ type: "text", text: "sail" }, { type: "image_url", image_url: image }],
      }],
    });
  const res = await edit(url);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(gw.fake.generationCalls[1].body.image, dataUri(tinyPng, "image/png"));

  await assertOpenAIError(await edit("https://img.example/gw/i/AAAAAAAAAAAAAAAA.png"), 400, {
    param: "messages",
    code: "image_not_found",
  });
  // Somebody else's link of the same shape is passed through.
  const other = await edit("https://elsewhere.example/i/AAAAAAAAAAAAAAAA.png");
  assert.equal(other.status, 200);
  await other.body?.cancel();
  assert.equal(
    gw.fake.generationCalls[2].body.image,
    "https://elsewhere.example/i/AAAAAAAAAAAAAAAA.png",
  );
});

Deno.test("chat accepts stream and include_usage sent as strings", async () => {
  await using gw = await startGateway();
  const res = await gw.post(CHAT, {
    model: "Kwai-Kolors/Kolors",
    stream: "true",
    stream_options: { include_usage: "true" },
    messages: [{ role: "user", content: "x" }],
  });
  assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const text = await res.text();
  assert.match(text, /"usage":\{"prompt_tokens"/);
});

Deno.test("chat banned keywords match whole words in Latin script, anywhere in Chinese", async () => {
  await using gw = await startGateway({ env: { BANNED_KEYWORDS: "ass,血腥" } });
  await ask(gw, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a glass of water" }],
  });
  for (const content of ["an ASS.", "很血腥的画面"]) {
    await assertOpenAIError(
      await gw.post(CHAT, { model: "Kwai-Kolors/Kolors", messages: [{ role: "user", content }] }),
      400,
      { code: "content_policy_violation" },
    );
  }
});

Deno.test("chat keeps the user's prompt when enhancement fails", async () => {
  await using gw = await startGateway({
    env: { ...NO_RETRIES, PROMPT_ENHANCE_MODEL: "Qwen/Qwen2.5-7B-Instruct" },
  });
  gw.fake.failNext({ status: 503, body: { code: 50505, message: "overloaded" } });
  const body = await ask(gw, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a cat" }],
  });
  assert.equal(
    body.choices[0].message.content,
    `![a cat](${links(body.choices[0].message.content)[0]})`,
  );
  assert.equal(gw.fake.generationCalls[0].body.prompt, "a cat");
});
