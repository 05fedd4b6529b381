import assert from "node:assert/strict";
import {
  assertOpenAIError,
  bytesOf,
  failingWrites,
  GATEWAY_KEY,
  linkPath,
  startGateway,
  type TestGateway,
  UPSTREAM_KEY,
} from "../_support/gateway.ts";
import { randomPng, tinyJpeg, tinyPng, tinyWebp } from "../_support/images.ts";
import { CHUNK_SIZE } from "../../lib/storage/kv_store.ts";

/** For tests of what a failure becomes: the failure is not retried away. */
const NO_RETRIES = { UPSTREAM_RETRIES: "0" };

const GENERATIONS = "/v1/images/generations";

Deno.test("POST /v1/images/generations answers a durable link that outlives the upstream link", async () => {
  await using gw = await startGateway();
  const res = await gw.post(GENERATIONS, {
    model: "Kwai-Kolors/Kolors",
    prompt: "a red fox in snow",
    size: "1024x1024",
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("x-image-storage"), "kv");
  const body = await res.json();
  assert.equal(typeof body.created, "number");
  const path = linkPath(body.data[0].url);
  assert.deepEqual(body, {
    created: body.created,
    data: [{ url: `http://localhost${path}`, seed: 123456789 }],
    model: "Kwai-Kolors/Kolors",
    output_format: "png",
    size: "1024x1024",
    timings: { inference: 1.25 },
  });
  assert.deepEqual(gw.fake.generationCalls, [{
    path: "/v1/images/generations",
    key: UPSTREAM_KEY,
    body: {
      model: "Kwai-Kolors/Kolors",
      prompt: "a red fox in snow",
      image_size: "1024x1024",
      batch_size: 1,
    },
  }]);

  gw.fake.expireAllLinks();
  const image = await gw.get(path, { key: null });
  assert.equal(image.status, 200);
  assert.equal(image.headers.get("content-type"), "image/png");
  assert.deepEqual(await bytesOf(image), tinyPng);
});

Deno.test("POST /v1/images/generations uses PUBLIC_BASE_URL for links when set", async () => {
  await using gw = await startGateway({ env: { PUBLIC_BASE_URL: "https://img.example.com/" } });
  const body = await (await gw.post(GENERATIONS, { prompt: "x" })).json();
  assert.match(body.data[0].url, /^https:\/\/img\.example\.com\/i\/[A-Za-z0-9_-]{16}\.png$/);
});

Deno.test("POST /v1/images/generations builds links from X-Forwarded-Proto and -Host with TRUST_PROXY_HEADERS", async () => {
  await using gw = await startGateway({ env: { TRUST_PROXY_HEADERS: "true" } });
  const res = await gw.app.request(GENERATIONS, {
    method: "POST",
    headers: {
      authorization: `Bearer ${GATEWAY_KEY}`,
      "x-forwarded-proto": "https",
      "x-forwarded-host": "gw.example.org",
    },
    body: JSON.stringify({ prompt: "x" }),
  });
  const body = await res.json();
  assert.match(body.data[0].url, /^https:\/\/gw\.example\.org\/i\/[A-Za-z0-9_-]{16}\.png$/);
});

Deno.test("POST /v1/images/generations stores the type sniffed from bytes, not the upstream header", async () => {
  for (
    const [bytes, ext, mime, format] of [
      [tinyJpeg, "jpg", "image/jpeg", "jpeg"],
      [tinyWebp, "webp", "image/webp", "webp"],
    ] as const
  ) {
    await using gw = await startGateway({ fake: { image: () => bytes } });
    const body = await (await gw.post(GENERATIONS, { prompt: "x" })).json();
    assert.equal(body.output_format, format);
    const path = linkPath(body.data[0].url);
    assert.ok(path.endsWith(`.${ext}`), path);
    const image = await gw.get(path, { key: null });
    assert.equal(image.headers.get("content-type"), mime);
    assert.deepEqual(await bytesOf(image), bytes);
  }
});

Deno.test("POST /v1/images/generations with b64_json answers the stored bytes and stores them", async () => {
  await using gw = await startGateway({ fake: { image: () => tinyJpeg } });
  const res = await gw.post(GENERATIONS, { prompt: "x", response_format: "b64_json" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "kv");
  const body = await res.json();
  assert.deepEqual(Object.keys(body.data[0]).sort(), ["b64_json", "seed"]);
  assert.deepEqual(Uint8Array.from(atob(body.data[0].b64_json), (c) => c.charCodeAt(0)), tinyJpeg);
  const metas = await Array.fromAsync(gw.kv.list({ prefix: ["img"] }));
  assert.equal(metas.length, 1);
});

Deno.test("POST /v1/images/generations maps SiliconFlow parameters, sf_ aliases and numeric strings", async () => {
  await using gw = await startGateway();
  const res = await gw.post(GENERATIONS, {
    model: "Qwen/Qwen-Image",
    prompt: "  a lighthouse  ",
    size: "1328X1328",
    sf_negative_prompt: "blurry",
    seed: "42",
    sf_num_steps: "30",
    cfg: "4.5",
    guidance_scale: 7,
    quality: "hd",
    style: "vivid",
    user: "u-1",
    background: "transparent",
    moderation: "low",
    output_format: "webp",
    output_compression: 80,
    some_unknown_field: true,
  });
  assert.equal(res.status, 200);
  // Qwen-Image calls guidance cfg: its own name wins over Kolors' guidance_scale.
  assert.equal(res.headers.get("x-params-dropped"), null);
  await res.body?.cancel();
  assert.deepEqual(gw.fake.generationCalls[0].body, {
    model: "Qwen/Qwen-Image",
    prompt: "a lighthouse",
    image_size: "1328x1328",
    negative_prompt: "blurry",
    num_inference_steps: 30,
    cfg: 4.5,
    seed: 42,
  });
});

Deno.test("POST /v1/images/generations prefers plain names over sf_ aliases and image_size over size", async () => {
  await using gw = await startGateway();
  const res = await gw.post(GENERATIONS, {
    prompt: "x",
    seed: 7,
    sf_seed: 8,
    size: "1024x1024",
    sf_image_size: "960x1280",
  });
  await res.body?.cancel();
  assert.equal(gw.fake.generationCalls[0].body.seed, 7);
  assert.equal(gw.fake.generationCalls[0].body.image_size, "960x1280");
});

Deno.test("POST /v1/images/generations treats size auto as the model's default", async () => {
  await using gw = await startGateway();
  const res = await gw.post(GENERATIONS, { prompt: "x", size: "auto" });
  await res.body?.cancel();
  assert.equal(gw.fake.generationCalls[0].body.image_size, "1024x1024");
});

Deno.test("POST /v1/images/generations uses the default model when none is named", async () => {
  await using gw = await startGateway({ env: { DEFAULT_IMAGE_MODEL: "Qwen/Qwen-Image" } });
  const body = await (await gw.post(GENERATIONS, { prompt: "x" })).json();
  assert.equal(body.model, "Qwen/Qwen-Image");
  assert.equal(gw.fake.generationCalls[0].body.model, "Qwen/Qwen-Image");
});

Deno.test("POST /v1/images/generations asks Kolors for n images in one batch call", async () => {
  await using gw = await startGateway();
  const body =
    await (await gw.post(GENERATIONS, { model: "Kwai-Kolors/Kolors", prompt: "x", n: 3 }))
      .json();
  assert.equal(body.data.length, 3);
  assert.equal(new Set(body.data.map((d: { url: string }) => d.url)).size, 3);
  assert.equal(gw.fake.generationCalls.length, 1);
  assert.equal(gw.fake.generationCalls[0].body.batch_size, 3);
});

Deno.test("POST /v1/images/generations splits n over parallel Kolors batches of at most 4", async () => {
  await using gw = await startGateway({
    env: { MAX_IMAGES_PER_REQUEST: "6" },
    fake: { delayMs: 50 },
  });
  const body =
    await (await gw.post(GENERATIONS, { model: "Kwai-Kolors/Kolors", prompt: "x", n: 6 }))
      .json();
  assert.equal(body.data.length, 6);
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.body.batch_size), [4, 2]);
  assert.equal(gw.fake.maxInFlight, 2);
  const seeds = gw.fake.generationCalls.map((c) => c.body.seed);
  assert.notEqual(seeds[0], seeds[1]);
});

Deno.test("POST /v1/images/generations runs n calls in parallel with different seeds for models without batches", async () => {
  await using gw = await startGateway({ fake: { delayMs: 50 } });
  const res = await gw.post(GENERATIONS, { model: "Qwen/Qwen-Image", prompt: "x", n: 4 });
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.equal(body.data.length, 4);
  assert.equal(gw.fake.generationCalls.length, 4);
  assert.equal(gw.fake.maxInFlight, 4);
  const seeds = gw.fake.generationCalls.map((c) => c.body.seed as number);
  assert.equal(new Set(seeds).size, 4);
  for (const seed of seeds) assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 9_999_999_999);
  for (const call of gw.fake.generationCalls) assert.equal(call.body.batch_size, undefined);
  assert.deepEqual(body.data.map((d: { seed: number }) => d.seed), seeds);
});

Deno.test("POST /v1/images/generations counts up from a fixed seed so n images are not copies", async () => {
  await using gw = await startGateway();
  const res = await gw.post(GENERATIONS, {
    model: "Qwen/Qwen-Image",
    prompt: "x",
    n: 3,
    seed: 9_999_999_998,
  });
  await res.body?.cancel();
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.body.seed), [
    9_999_999_998,
    9_999_999_999,
    0,
  ]);
});

Deno.test("POST /v1/images/generations refuses n above MAX_IMAGES_PER_REQUEST, naming the cap", async () => {
  await using gw = await startGateway();
  const error = await assertOpenAIError(await gw.post(GENERATIONS, { prompt: "x", n: 5 }), 400, {
    param: "n",
    code: "too_many_images",
    type: "invalid_request_error",
  });
  assert.equal(
    error.message,
    "n is 5, but this gateway allows at most 4 images per request (MAX_IMAGES_PER_REQUEST)",
  );
  assert.equal(gw.fake.generationCalls.length, 0);
});

/** Each body answers 400 `invalid_value` naming `param`, with the message given; nothing goes upstream. */
async function assertInvalidValues(
  gw: TestGateway,
  cases: [Record<string, unknown>, string, RegExp | string][],
) {
  for (const [body, param, message] of cases) {
    await assertOpenAIError(await gw.post(GENERATIONS, body), 400, {
      param,
      code: "invalid_value",
      type: "invalid_request_error",
      message,
    });
  }
  assert.equal(gw.fake.generationCalls.length, 0);
}

Deno.test("POST /v1/images/generations names the field at fault in 400s", async () => {
  await using gw = await startGateway();
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{}, "prompt", /prompt is required/],
    [{ prompt: "   " }, "prompt", /prompt must not be empty/],
    [{ prompt: 42 }, "prompt", /prompt is required and must be a string/],
    [{ prompt: "x", seed: -1 }, "seed", /seed must be between 0 and 9999999999/],
    [{ prompt: "x", seed: 10_000_000_000 }, "seed", /seed must be between 0 and 9999999999/],
    [{ prompt: "x", sf_seed: "abc" }, "sf_seed", /sf_seed must be a number/],
    [{ prompt: "x", seed: 1.5 }, "seed", /seed must be an integer/],
    [{ prompt: "x", num_inference_steps: 0 }, "num_inference_steps", /between 1 and 100/],
    [{ prompt: "x", sf_num_steps: 101 }, "sf_num_steps", /sf_num_steps must be between 1 and 100/],
    [{ prompt: "x", guidance_scale: "abc" }, "guidance_scale", /guidance_scale must be a number/],
    [{ prompt: "x", n: 1.5 }, "n", /^n must be an integer$/],
    [{ prompt: "x", width: 0 }, "width", /^width must be between 1 and 16384$/],
    [{ prompt: "x", aspectRatio: "wide" }, "aspectRatio", /^aspectRatio "wide" is not a ratio/],
    [{ prompt: "x", response_format: "png" }, "response_format", /"url" or "b64_json"/],
    [{ prompt: "x", image: "file:///etc/passwd" }, "image", /data:image/],
    [{ prompt: "x", model: 7 }, "model", /model must be a string/],
  ];
  await assertInvalidValues(gw, cases);
});

Deno.test("400s state the limits in force: MAX_IMAGES_PER_REQUEST, the model's own range and sizes", async () => {
  await using gw = await startGateway({ env: { MAX_IMAGES_PER_REQUEST: "6" } });
  const cases: [Record<string, unknown>, string, string][] = [
    [{ n: 0 }, "n", "n must be between 1 and 6 (MAX_IMAGES_PER_REQUEST)"],
    [
      { batch_size: -1 },
      "batch_size",
      "batch_size must be between 1 and 6 (MAX_IMAGES_PER_REQUEST)",
    ],
    [
      { guidance_scale: 21 },
      "guidance_scale",
      "guidance_scale must be between 0 and 20 for Kwai-Kolors/Kolors",
    ],
    [
      { model: "Qwen/Qwen-Image", cfg: 0 },
      "cfg",
      "cfg must be between 0.1 and 20 for Qwen/Qwen-Image",
    ],
    [
      { model: "stabilityai/stable-diffusion-3-5-large", guidance_scale: 101 },
      "guidance_scale",
      "guidance_scale must be between 0 and 100 for stabilityai/stable-diffusion-3-5-large",
    ],
    [
      { sf_batch_size: 0 },
      "sf_batch_size",
      "sf_batch_size must be between 1 and 6 (MAX_IMAGES_PER_REQUEST)",
    ],
    [
      { sf_guidance_scale: 1000 },
      "sf_guidance_scale",
      "sf_guidance_scale must be between 0 and 20 for Kwai-Kolors/Kolors",
    ],
    [
      { model: "black-forest-labs/FLUX.1-dev", num_inference_steps: 150 },
      "num_inference_steps",
      "num_inference_steps must be between 1 and 30 for black-forest-labs/FLUX.1-dev",
    ],
    [
      { size: "big" },
      "size",
      'size "big" is not a size; use WIDTHxHEIGHT such as "1024x1024", one of ' +
      "Kwai-Kolors/Kolors's sizes: 1024x1024, 960x1280, 768x1024, 720x1440, 720x1280",
    ],
    [
      { model: "Qwen/Qwen-Image", image_size: "0x100" },
      "image_size",
      'image_size "0x100" is not a size; use WIDTHxHEIGHT such as "1328x1328", one of ' +
      "Qwen/Qwen-Image's sizes: 1328x1328, 1664x928, 928x1664, 1472x1140, 1140x1472, 1584x1056, " +
      "1056x1584",
    ],
  ];
  await assertInvalidValues(
    gw,
    cases.map(([body, ...rest]) => [{ prompt: "x", ...body }, ...rest]),
  );
});

Deno.test("every endpoint counts prompt length in code points", async () => {
  await using gw = await startGateway();
  // 32,000 emoji are 64,000 UTF-16 units, and still within the limit.
  const longest = "🦊".repeat(32_000);
  assert.equal((await gw.post(GENERATIONS, { prompt: longest })).status, 200);
  await assertOpenAIError(await gw.post(GENERATIONS, { prompt: `${longest}🦊` }), 400, {
    param: "prompt",
    code: "invalid_value",
    type: "invalid_request_error",
    message: "prompt is 32001 characters; at most 32000",
  });
  const chat = (text: string) =>
    gw.post("/v1/chat/completions", {
      model: "Kwai-Kolors/Kolors",
      messages: [{ role: "user", content: text }],
    });
  assert.equal((await chat(longest)).status, 200);
  await assertOpenAIError(await chat(`${longest}🦊`), 400, {
    param: "messages",
    code: "prompt_too_long",
    type: "invalid_request_error",
    message: "The latest user message is 32001 characters; prompts may have at most 32000",
  });
  const form = new FormData();
  form.set("model", "Qwen/Qwen-Image-Edit");
  form.set("prompt", `${longest}🦊`);
  form.set("image", new File([tinyPng], "a.png", { type: "image/png" }));
  const edit = await gw.app.request("/v1/images/edits", {
    method: "POST",
    headers: { authorization: `Bearer ${GATEWAY_KEY}` },
    body: form,
  });
  await assertOpenAIError(edit, 400, {
    param: "prompt",
    code: "invalid_value",
    type: "invalid_request_error",
    message: "prompt is 32001 characters; at most 32000",
  });
  assert.equal(gw.fake.generationCalls.length, 2);
});

Deno.test("POST /v1/images/generations answers 400 to bodies that are not a JSON object", async () => {
  await using gw = await startGateway();
  await assertOpenAIError(await gw.post(GENERATIONS, "{not json"), 400, {
    param: null,
    code: "invalid_json",
    message: /^The request body is not valid JSON/,
  });
  await assertOpenAIError(await gw.post(GENERATIONS, ""), 400, {
    code: null,
    message: /body is empty/,
  });
  await assertOpenAIError(await gw.post(GENERATIONS, "[1,2]"), 400, {
    message: /must be a JSON object/,
  });
});

Deno.test("POST /v1/images/generations/ with a trailing slash works", async () => {
  await using gw = await startGateway();
  const res = await gw.post(`${GENERATIONS}/`, { prompt: "x" });
  assert.equal(res.status, 200);
  await res.body?.cancel();
});

Deno.test("POST /v1/images/generations returns the images of calls that worked when others fail", async () => {
  await using gw = await startGateway({ env: NO_RETRIES });
  gw.fake.failNext({
    status: 503,
    body: { code: 50505, message: "Model service overloaded. Please try again later.", data: null },
  });
  const res = await gw.post(GENERATIONS, { model: "Qwen/Qwen-Image", prompt: "x", n: 2 });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-images-failed"), "1");
  const body = await res.json();
  assert.equal(body.data.length, 1);
  linkPath(body.data[0].url);
  assert.equal(gw.log.warnings.length, 1);
  assert.match(gw.log.warnings[0], /^1 of 2 upstream calls failed: SiliconFlow is overloaded/);
});

Deno.test("POST /v1/images/generations falls back to the upstream link when the download fails, and says so", async () => {
  await using gw = await startGateway({ fake: { imageTtlMs: 0 } });
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "upstream-fallback");
  const body = await res.json();
  assert.match(body.data[0].url, /^http:\/\/127\.0\.0\.1:\d+\/outputs\/.+_0\.png\?OSSAccessKeyId=/);
  assert.equal(gw.log.warnings.length, 1);
  assert.match(
    gw.log.warnings[0],
    /^image not stored, answering with the upstream link: Cannot download image from http:\/\/127\.0\.0\.1:\d+\/outputs\/[^?]+: HTTP 403$/,
  );
  assert.deepEqual(await Array.fromAsync(gw.kv.list({ prefix: [] })), []);
});

Deno.test("POST /v1/images/generations keeps the image when KV fails: upstream link for url, bytes for b64_json", async () => {
  await using gw = await startGateway({ wrapKv: failingWrites, fake: { image: () => tinyWebp } });
  const urlRes = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(urlRes.status, 200);
  assert.equal(urlRes.headers.get("x-image-storage"), "upstream-fallback");
  assert.match((await urlRes.json()).data[0].url, /\/outputs\/.+\?OSSAccessKeyId=/);

  const b64Res = await gw.post(GENERATIONS, { prompt: "x", response_format: "b64_json" });
  assert.equal(b64Res.status, 200);
  assert.equal(b64Res.headers.get("x-image-storage"), "upstream-fallback");
  const b64 = (await b64Res.json()).data[0].b64_json;
  assert.deepEqual(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)), tinyWebp);
  assert.equal(gw.log.warnings.length, 2);
  for (const line of gw.log.warnings) {
    assert.equal(
      line,
      "image not stored, answering with the upstream link: database is locked (simulated)",
    );
  }
});

Deno.test("POST /v1/images/generations refuses upstream content that is not an image", async () => {
  const html = new TextEncoder().encode("<html>expired</html>");
  await using gw = await startGateway({ fake: { image: () => html } });
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.headers.get("x-image-storage"), "upstream-fallback");
  await res.body?.cancel();
  assert.match(gw.log.warnings[0], /is not a PNG, JPEG, WebP or GIF image$/);
});

Deno.test("POST /v1/images/generations refuses upstream images over MAX_IMAGE_BYTES", async () => {
  const big = randomPng(100, 100);
  await using gw = await startGateway({
    env: { MAX_IMAGE_BYTES: "10KB" },
    fake: { image: () => big },
  });
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.headers.get("x-image-storage"), "upstream-fallback");
  await res.body?.cancel();
  assert.match(gw.log.warnings[0], /is \d+ bytes, over the 10240-byte cap$/);
});

Deno.test("POST /v1/images/generations stores images well over 64 KiB in chunks and serves them byte-identical", async () => {
  const big = randomPng(600, 600);
  assert.ok(big.length > 1_000_000);
  await using gw = await startGateway({ fake: { image: () => big } });
  const body = await (await gw.post(GENERATIONS, { prompt: "x" })).json();
  const path = linkPath(body.data[0].url);
  const chunks = await Array.fromAsync(gw.kv.list<Uint8Array>({ prefix: ["img_chunk"] }));
  assert.equal(chunks.length, Math.ceil(big.length / CHUNK_SIZE));
  for (const chunk of chunks) assert.ok(chunk.value.length <= CHUNK_SIZE);
  gw.fake.expireAllLinks();
  const image = await gw.get(path, { key: null });
  assert.equal(image.headers.get("content-length"), String(big.length));
  assert.deepEqual(await bytesOf(image), big);
});

Deno.test("a generated link serves identical bytes after the upstream link expired and the gateway restarted", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/gateway.kv`;
  const big = randomPng(300, 300);
  try {
    let path: string;
    {
      await using gw = await startGateway({ kvPath, fake: { image: () => big } });
      path = linkPath((await (await gw.post(GENERATIONS, { prompt: "x" })).json()).data[0].url);
      gw.fake.expireAllLinks();
    }
    await using restarted = await startGateway({ kvPath });
    const image = await restarted.get(path, { key: null });
    assert.equal(image.status, 200);
    assert.equal(image.headers.get("content-type"), "image/png");
    assert.deepEqual(await bytesOf(image), big);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("POST /v1/images/generations treats null fields as unset and refuses hex numbers", async () => {
  await using gw = await startGateway();
  const res = await gw.post(GENERATIONS, {
    prompt: "x",
    n: null,
    seed: null,
    num_inference_steps: null,
    size: null,
    response_format: null,
    stream: null,
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.deepEqual(gw.fake.generationCalls[0].body, {
    model: "Kwai-Kolors/Kolors",
    prompt: "x",
    image_size: "1024x1024",
    batch_size: 1,
  });
  await assertOpenAIError(await gw.post(GENERATIONS, { prompt: "x", seed: "0x2" }), 400, {
    param: "seed",
    message: /^seed must be a number$/,
  });
});

Deno.test("POST /v1/images/generations answers 413 to bodies over 32 MB", async () => {
  await using gw = await startGateway();
  const huge = JSON.stringify({
    prompt: "x",
    image: `data:image/png;base64,${"A".repeat(33 << 20)}`,
  });
  await assertOpenAIError(await gw.post(GENERATIONS, huge), 413, {
    code: "payload_too_large",
    type: "invalid_request_error",
    message: /^The request body is over 33554432 bytes$/,
  });
  assert.equal(gw.fake.generationCalls.length, 0);
});

Deno.test("POST /v1/images/generations gives up a download after IMAGE_DOWNLOAD_TIMEOUT_SECONDS and keeps the upstream link", async () => {
  await using gw = await startGateway({
    env: { IMAGE_DOWNLOAD_TIMEOUT_SECONDS: "1" },
    fake: { imageDelayMs: 1300 },
  });
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "upstream-fallback");
  assert.match((await res.json()).data[0].url, /\/outputs\/.+\?OSSAccessKeyId=/);
  assert.match(
    gw.log.warnings[0],
    /: Cannot download image from http:\/\/127\.0\.0\.1:\d+\/outputs\/[^?]+: no answer within 1000 ms$/,
  );
  await new Promise((r) => setTimeout(r, 400)); // let the fake finish its delayed answer
});

Deno.test("POST /v1/images/generations never fetches nor answers an upstream link that is not http(s)", async () => {
  await using gw = await startGateway({ env: { UPSTREAM_RETRIES: "0" } });
  gw.fake.failNext({ status: 200, body: { images: [{ url: "file:///etc/hostname" }], seed: 1 } });
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.status, 502);
  assert.equal(res.headers.get("x-should-retry"), "false");
  assert.deepEqual(await res.json(), {
    error: {
      message: "SiliconFlow answered with an unusable reply: the reply contained no images",
      type: "upstream_error",
      param: null,
      code: "upstream_bad_response",
    },
  });
  assert.deepEqual(await Array.fromAsync(gw.kv.list({ prefix: [] })), []);
  assert.deepEqual(gw.fake.imageRequests, []);
});

Deno.test("POST /v1/images/generations reads data[] when SiliconFlow's images[] is empty, and base64 items", async () => {
  await using gw = await startGateway();
  const b64 = btoa(String.fromCharCode(...tinyJpeg));
  gw.fake.failNext({ status: 200, body: { images: [], data: [{ b64_json: b64 }], seed: 5 } });
  const body = await (await gw.post(GENERATIONS, { prompt: "x" })).json();
  const image = await gw.get(linkPath(body.data[0].url), { key: null });
  assert.equal(image.headers.get("content-type"), "image/jpeg");
  assert.deepEqual(await bytesOf(image), tinyJpeg);
});

Deno.test("POST /v1/images/generations tells SDKs not to retry when SiliconFlow's reply breaks off after 200", async () => {
  await using gw = await startGateway();
  gw.fake.failNext({ status: 200, body: { images: [{ url: "http://x/y.png" }] }, cutOff: true });
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.headers.get("x-should-retry"), "false");
  await assertOpenAIError(res, 502, {
    code: "upstream_bad_response",
    message:
      /^SiliconFlow answered with an unusable reply: the reply was cut off \(connection lost\)$/,
  });
});

Deno.test("POST /v1/images/generations tells SDKs not to retry when any failed call may have been billed", async () => {
  await using gw = await startGateway({ env: NO_RETRIES });
  gw.fake.failNext({ status: 503, body: { code: 50505, message: "Model service overloaded." } });
  gw.fake.failNext({ status: 504, body: "upstream request timeout" });
  const res = await gw.post(GENERATIONS, { model: "Qwen/Qwen-Image", prompt: "x", n: 2 });
  assert.equal(res.headers.get("x-should-retry"), "false");
  assert.ok(res.status === 503 || res.status === 504, String(res.status));
  await res.body?.cancel();
});

Deno.test("POST /v1/images/generations tries a failed image download again before falling back", async () => {
  let downloads = 0;
  await using gw = await startGateway({
    fake: {
      chaos: (what) =>
        what === "image" && ++downloads <= 2 ? { status: 503, body: "busy" } : undefined,
    },
  });
  const res = await gw.post(GENERATIONS, { prompt: "x" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "kv");
  linkPath((await res.json()).data[0].url);
  assert.equal(downloads, 3);
  assert.deepEqual(gw.log.warnings, []);
});
