/**
 * Requests fitted to each model before they go upstream: sizes snapped to the model's list and
 * reported back, parameters it does not take dropped and named, aliases resolved and listed, and
 * base64 added for clients built on the Vercel AI SDK.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GATEWAY_KEY, linkPath, startGateway } from "../_support/gateway.ts";
import { base64Of, tinyPng } from "../_support/images.ts";

const GENERATIONS = "/v1/images/generations";

Deno.test("sizes are snapped to each model family's list and the chosen size is reported", async () => {
  await using gw = await startGateway();
  const cases: [string, string | undefined, string][] = [
    ["Kwai-Kolors/Kolors", "512x512", "1024x1024"], // Open WebUI's default size
    ["Kwai-Kolors/Kolors", "1024x1792", "720x1280"],
    ["Kwai-Kolors/Kolors", "auto", "1024x1024"],
    ["Kwai-Kolors/Kolors", undefined, "1024x1024"],
    ["Qwen/Qwen-Image", "512x512", "1328x1328"],
    ["Qwen/Qwen-Image", "1792x1024", "1664x928"],
    ["Qwen/Qwen-Image", "1140x1472", "1140x1472"],
  ];
  for (const [model, size, expected] of cases) {
    const res = await gw.post(GENERATIONS, { model, prompt: "x", ...(size ? { size } : {}) });
    assert.equal(res.headers.get("x-params-dropped"), null, `${model} ${size}`);
    assert.equal((await res.json()).size, expected, `${model} ${size}`);
  }
  assert.deepEqual(
    gw.fake.generationCalls.map((c) => c.body.image_size),
    cases.map(([, , expected]) => expected),
  );
});

Deno.test("edit models get no image_size, and the dropped size is named in a header", async () => {
  await using gw = await startGateway();
  const res = await gw.post(GENERATIONS, {
    model: "Qwen/Qwen-Image-Edit",
    prompt: "make it blue",
    size: "1024x1024",
    image: `data:image/png;base64,${base64Of(tinyPng)}`,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-params-dropped"), "size");
  const body = await res.json();
  assert.equal(body.size, undefined);
  assert.deepEqual(gw.fake.generationCalls[0].body, {
    model: "Qwen/Qwen-Image-Edit",
    prompt: "make it blue",
    image: `data:image/png;base64,${base64Of(tinyPng)}`,
  });
});

Deno.test("parameters a model does not take are dropped before the call, not sent to fail there", async () => {
  await using gw = await startGateway();
  const res = await gw.post(GENERATIONS, {
    model: "Kwai-Kolors/Kolors",
    prompt: "x",
    image: "https://cdn.example/a.png",
    image2: "https://cdn.example/b.png",
    negative_prompt: "fog",
  });
  assert.equal(res.headers.get("x-params-dropped"), "image2");
  await res.body?.cancel();
  assert.deepEqual(gw.fake.generationCalls[0].body, {
    model: "Kwai-Kolors/Kolors",
    prompt: "x",
    image_size: "1024x1024",
    negative_prompt: "fog",
    image: "https://cdn.example/a.png",
    batch_size: 1,
  });
});

Deno.test("guidance goes under each model's own name, and steps are checked against the model", async () => {
  await using gw = await startGateway();
  for (
    const [model, field] of [["Kwai-Kolors/Kolors", "cfg"], ["Qwen/Qwen-Image", "guidance_scale"]]
  ) {
    const res = await gw.post(GENERATIONS, { model, prompt: "x", [field]: 5 });
    assert.equal(res.headers.get("x-params-dropped"), null);
    await res.body?.cancel();
  }
  const [kolors, qwen] = gw.fake.generationCalls.map((c) => c.body);
  assert.deepEqual([kolors.guidance_scale, kolors.cfg], [5, undefined]);
  assert.deepEqual([qwen.cfg, qwen.guidance_scale], [5, undefined]);

  const res = await gw.post(GENERATIONS, {
    model: "black-forest-labs/FLUX.1-dev",
    prompt: "x",
    num_inference_steps: 50,
  });
  assert.equal(res.status, 400);
  const error = (await res.json()).error;
  assert.equal(error.param, "num_inference_steps");
  assert.equal(
    error.message,
    "num_inference_steps must be between 1 and 30 for black-forest-labs/FLUX.1-dev",
  );
});

Deno.test("a model unknown to the catalog keeps a plausible size it was asked for", async () => {
  await using gw = await startGateway();
  gw.fake.failNext({ status: 200, body: { images: [{ url: "data:image/png;base64,AAAA" }] } });
  const res = await gw.post(GENERATIONS, {
    model: "Vendor/New-Model",
    prompt: "x",
    size: "1328x1328",
  });
  await res.body?.cancel();
  assert.equal(gw.fake.generationCalls[0].body.image_size, "1328x1328");
});

Deno.test("model ids are matched case-insensitively and sent in SiliconFlow's spelling", async () => {
  await using gw = await startGateway();
  const body = await (await gw.post(GENERATIONS, { model: "kwai-kolors/kolors", prompt: "x" }))
    .json();
  assert.equal(body.model, "Kwai-Kolors/Kolors");
  assert.equal(gw.fake.generationCalls[0].body.model, "Kwai-Kolors/Kolors");
});

Deno.test("MODEL_ALIASES map OpenAI model ids to SiliconFlow models and are listed in /v1/models", async () => {
  await using gw = await startGateway({
    env: { MODEL_ALIASES: "gpt-image-1=Qwen/Qwen-Image,dall-e-3=Kwai-Kolors/Kolors" },
  });
  const list = await (await gw.get("/v1/models")).json();
  const ids = list.data.map((m: { id: string }) => m.id);
  assert.deepEqual(ids.slice(-2), ["gpt-image-1", "dall-e-3"]);
  assert.deepEqual(list.data.at(-1), {
    id: "dall-e-3",
    object: "model",
    created: 1_704_067_200,
    owned_by: "sf-image-gateway",
  });

  const res = await gw.post(GENERATIONS, { model: "DALL-E-3", prompt: "x", size: "1792x1024" });
  const body = await res.json();
  assert.equal(body.model, "Kwai-Kolors/Kolors");
  assert.equal(body.size, "1024x1024");
  await gw.post("/v1/chat/completions", {
    model: "gpt-image-1",
    messages: [{ role: "user", content: "a cat --ar 16:9" }],
  }).then((r) => r.body?.cancel());
  assert.deepEqual(gw.fake.generationCalls.map((c) => [c.body.model, c.body.image_size]), [
    ["Kwai-Kolors/Kolors", "1024x1024"],
    ["Qwen/Qwen-Image", "1664x928"],
  ]);
});

Deno.test("AI-SDK clients get b64_json beside the durable link, unless B64_FOR_AI_SDK=false", async () => {
  const request = (
    gwApp: { request: (p: string, i: RequestInit) => Response | Promise<Response> },
  ) =>
    gwApp.request(GENERATIONS, {
      method: "POST",
      headers: {
        authorization: `Bearer ${GATEWAY_KEY}`,
        "user-agent": "ai-sdk/openai-compatible/1.0.20 runtime/deno",
      },
      body: JSON.stringify({ model: "Kwai-Kolors/Kolors", prompt: "x" }),
    });
  {
    await using gw = await startGateway();
    const item = (await (await request(gw.app)).json()).data[0];
    assert.deepEqual(Object.keys(item).sort(), ["b64_json", "seed", "url"]);
    linkPath(item.url);
    assert.equal(item.b64_json, base64Of(tinyPng));
  }
  {
    await using gw = await startGateway({ env: { B64_FOR_AI_SDK: "false" } });
    const item = (await (await request(gw.app)).json()).data[0];
    assert.deepEqual(Object.keys(item).sort(), ["seed", "url"]);
  }
  {
    await using gw = await startGateway();
    const plain = await (await gw.post(GENERATIONS, { prompt: "x" })).json();
    assert.deepEqual(Object.keys(plain.data[0]).sort(), ["seed", "url"]);
  }
});

Deno.test("OpenAI model ids without an alias use the default model, and the answer says so", async () => {
  await using gw = await startGateway({ env: { DEFAULT_IMAGE_MODEL: "Qwen/Qwen-Image" } });
  const res = await gw.post(GENERATIONS, { model: "dall-e-3", prompt: "x", size: "1792x1024" });
  assert.equal(res.headers.get("x-model-substituted"), "dall-e-3 -> Qwen/Qwen-Image");
  const body = await res.json();
  assert.equal(body.model, "Qwen/Qwen-Image");
  assert.equal(body.size, "1664x928");
});

Deno.test("generations with an edit model and no image answer 400 before any upstream call", async () => {
  await using gw = await startGateway();
  const res = await gw.post(GENERATIONS, { model: "Qwen/Qwen-Image-Edit", prompt: "x" });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.param, "image");
  assert.equal(body.error.code, "missing_image");
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("a blank number from a form counts as unset, and aliases are found in any case", async () => {
  await using gw = await startGateway({ env: { MODEL_ALIASES: "GPT-Image-1=Qwen/Qwen-Image" } });
  const res = await gw.post(GENERATIONS, { prompt: "x", n: " ", seed: "" });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const model = await gw.get("/v1/models/GPT-Image-1");
  assert.equal(model.status, 200);
  assert.equal((await model.json()).id, "gpt-image-1");
});

Deno.test("width/height and aspectRatio/aspect_ratio map to the model's nearest size; unused ones are named", async () => {
  await using gw = await startGateway();
  const cases: [Record<string, unknown>, string | undefined, string | null][] = [
    // LobeChat spreads its parameter schema into the request as it is.
    [{ width: 1024, height: 1024 }, "1024x1024", null],
    [{ width: 1280, height: 720 }, "1024x1024", null],
    [{ aspectRatio: "9:16" }, "720x1280", null],
    [{ aspect_ratio: "3/4" }, "960x1280", null],
    [{ width: 768, height: 1024, aspectRatio: "16:9" }, "768x1024", "aspect_ratio"],
    [
      { size: "1024x1024", width: 720, height: 1280, aspect_ratio: "9:16" },
      "1024x1024",
      "width,height,aspect_ratio",
    ],
    [{ width: 720 }, "1024x1024", "width"],
  ];
  for (const [params, expected, dropped] of cases) {
    const res = await gw.post(GENERATIONS, { model: "Kwai-Kolors/Kolors", prompt: "x", ...params });
    assert.equal(res.status, 200, JSON.stringify(params));
    assert.equal(res.headers.get("x-params-dropped"), dropped, JSON.stringify(params));
    assert.equal((await res.json()).size, expected, JSON.stringify(params));
  }
  assert.deepEqual(
    gw.fake.generationCalls.map((c) => c.body.image_size),
    cases.map(([, expected]) => expected),
  );
  // An edit model takes no size at all: every shape field is named.
  const edit = await gw.post(GENERATIONS, {
    model: "Qwen/Qwen-Image-Edit",
    prompt: "x",
    image: `data:image/png;base64,${base64Of(tinyPng)}`,
    width: 512,
    height: 512,
    aspectRatio: "1:1",
  });
  assert.equal(edit.headers.get("x-params-dropped"), "width,height,aspect_ratio");
  assert.equal(gw.fake.generationCalls.at(-1)?.body.image_size, undefined);
});

Deno.test("extra_fields and extra_body, as objects or JSON text, act as top-level fields; top level wins", async () => {
  await using gw = await startGateway();
  // new-api re-serialises only the fields it knows and keeps SiliconFlow's in extra_fields.
  const res = await gw.post(GENERATIONS, {
    model: "Kwai-Kolors/Kolors",
    prompt: "x",
    seed: 5,
    extra_fields: JSON.stringify({ seed: 1, negative_prompt: "blurry", num_inference_steps: 30 }),
    extra_body: { guidance_scale: 4.5, negative_prompt: "dark" },
  });
  assert.equal(res.status, 200);
  assert.deepEqual(gw.fake.generationCalls[0].body, {
    model: "Kwai-Kolors/Kolors",
    prompt: "x",
    image_size: "1024x1024",
    batch_size: 1,
    seed: 5,
    negative_prompt: "blurry",
    num_inference_steps: 30,
    guidance_scale: 4.5,
  });
  for (const [field, value] of [["extra_fields", "{not json"], ["extra_body", [1, 2]]]) {
    const bad = await gw.post(GENERATIONS, { prompt: "x", [field as string]: value });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), {
      error: {
        message: `${field} must be a JSON object`,
        type: "invalid_request_error",
        param: field,
        code: "invalid_value",
      },
    });
  }
  assert.equal(gw.fake.generationCalls.length, 1);
});

Deno.test("the answer's fields follow response_format, the requested gpt-image id, the SDK and B64_BY_DEFAULT", async () => {
  const ask = async (
    app: { request: (p: string, i: RequestInit) => Response | Promise<Response> },
    body: Record<string, unknown>,
    userAgent = "curl/8.5.0",
  ) => {
    const res = await app.request(GENERATIONS, {
      method: "POST",
      headers: { authorization: `Bearer ${GATEWAY_KEY}`, "user-agent": userAgent },
      body: JSON.stringify({ prompt: "x", ...body }),
    });
    assert.equal(res.status, 200);
    const item = (await res.json()).data[0];
    if (item.b64_json !== undefined) assert.equal(item.b64_json, base64Of(tinyPng));
    return Object.keys(item).filter((k) => k !== "seed").sort().join(",");
  };
  await using gw = await startGateway();
  assert.equal(await ask(gw.app, {}), "url");
  assert.equal(await ask(gw.app, { response_format: "b64_json" }), "b64_json");
  // OpenAI's gpt-image models answer base64 only, and clients written for them send no format.
  assert.equal(await ask(gw.app, { model: "gpt-image-1" }), "b64_json");
  assert.equal(await ask(gw.app, { model: "GPT-Image-1-mini" }), "b64_json");
  assert.equal(await ask(gw.app, { model: "chatgpt-image-latest" }), "b64_json");
  assert.equal(await ask(gw.app, { model: "gpt-image-1", response_format: "url" }), "url");
  assert.equal(await ask(gw.app, { model: "dall-e-3" }), "url");
  // Every AI SDK User-Agent since v5: v6, v7 (with hyphens), the provider's own suffix.
  for (
    const agent of [
      "ai/6.0.326 ai-sdk/provider-utils/4.0.66 runtime/node.js/v20.20.2",
      "ai/7.0.173 ai-sdk-provider-utils/5.0.81 node.js/v20.20.2",
      "ai-sdk-openai/4.0.118",
      "ai-sdk/openai-compatible/3.0.92",
    ]
  ) {
    assert.equal(await ask(gw.app, {}, agent), "b64_json,url", agent);
  }
  // An explicit b64_json never gets a url beside it: Open WebUI and NextChat would use the url.
  assert.equal(
    await ask(gw.app, { response_format: "b64_json" }, "ai/7.0.173 ai-sdk-provider-utils/5.0.81"),
    "b64_json",
  );
  // "ai-sdk" inside another word is not the SDK.
  assert.equal(await ask(gw.app, {}, "my-ai-sdkish/1.0"), "url");

  await using browser = await startGateway({ env: { B64_BY_DEFAULT: "true" } });
  const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/138.0";
  assert.equal(await ask(browser.app, {}, chrome), "b64_json,url");
  assert.equal(await ask(browser.app, { response_format: "url" }, chrome), "url");
  assert.equal(await ask(browser.app, { response_format: "b64_json" }, chrome), "b64_json");
});

Deno.test("a top-level value wins over extra_fields and extra_body whatever it is called", async () => {
  await using gw = await startGateway();
  const cases: [Record<string, unknown>, Record<string, unknown>][] = [
    [{ sf_seed: 1, extra_fields: { seed: 2 } }, { seed: 1 }],
    [{ steps: 10, extra_fields: { num_inference_steps: 30 } }, { num_inference_steps: 10 }],
    [{ size: "1024x1024", extra_body: { image_size: "960x1280" } }, { image_size: "1024x1024" }],
    [{ extra_fields: { sf_seed: 3 }, extra_body: { seed: 4 } }, { seed: 3 }],
  ];
  for (const [params, expected] of cases) {
    const res = await gw.post(GENERATIONS, { model: "Kwai-Kolors/Kolors", prompt: "x", ...params });
    assert.equal(res.status, 200, JSON.stringify(params));
    assert.equal(res.headers.get("x-params-dropped"), null, JSON.stringify(params));
    const sent = gw.fake.generationCalls.at(-1)!.body;
    for (const [field, value] of Object.entries(expected)) {
      assert.equal(sent[field], value, `${JSON.stringify(params)}: ${field}`);
    }
  }
  // A bad value inside a container is named by its path.
  const bad = await gw.post(GENERATIONS, { prompt: "x", extra_fields: { sf_seed: "abc" } });
  assert.deepEqual((await bad.json()).error, {
    message: "extra_fields.sf_seed must be a number",
    type: "invalid_request_error",
    param: "extra_fields.sf_seed",
    code: "invalid_value",
  });
});

Deno.test("chat reads extra_fields and LobeChat's shape fields beside the messages; flags win", async () => {
  await using gw = await startGateway();
  const chat = (body: Record<string, unknown>, content = "a harbour") =>
    gw.post("/v1/chat/completions", {
      model: "Qwen/Qwen-Image",
      messages: [{ role: "user", content }],
      ...body,
    });
  assert.equal((await chat({ extra_fields: { seed: 9 }, width: 928, height: 1664 })).status, 200);
  assert.equal(gw.fake.generationCalls.at(-1)!.body.seed, 9);
  assert.equal(gw.fake.generationCalls.at(-1)!.body.image_size, "928x1664");
  assert.equal((await chat({ aspect_ratio: "16:9" })).status, 200);
  assert.equal(gw.fake.generationCalls.at(-1)!.body.image_size, "1664x928");
  // A ratio flag in the prompt replaces every shape field of the body.
  assert.equal((await chat({ width: 928, height: 1664 }, "a harbour --ar 1:1")).status, 200);
  assert.equal(gw.fake.generationCalls.at(-1)!.body.image_size, "1328x1328");
  // A top-level spelling beats the same parameter inside extra_fields.
  assert.equal((await chat({ sf_seed: 5, extra_fields: { seed: 6 } })).status, 200);
  assert.equal(gw.fake.generationCalls.at(-1)!.body.seed, 5);
});
