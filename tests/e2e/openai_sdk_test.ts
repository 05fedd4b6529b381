/**
 * The official `openai` npm package against the gateway: what users actually run. The SDK's
 * `fetch` option sends its requests into the app in process, so this needs no open port.
 *
 * @module
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { bytesOf, GATEWAY_KEY, linkPath, openaiClient, startGateway } from "../_support/gateway.ts";
import { tinyJpeg, tinyPng } from "../_support/images.ts";

const client = openaiClient;

Deno.test("openai SDK images.generate gets durable links it can download", async () => {
  await using gw = await startGateway();
  const res = await client(gw).images.generate({
    model: "Kwai-Kolors/Kolors",
    prompt: "a red fox",
    n: 2,
    size: "1024x1024",
  });
  assert.equal(res.data?.length, 2);
  for (const item of res.data ?? []) {
    assert.match(item.url ?? "", /^http:\/\/gateway\.test\/i\/[A-Za-z0-9_-]{16}\.png$/);
    const image = await gw.get(linkPath(item.url!), { key: null });
    assert.deepEqual(await bytesOf(image), tinyPng);
  }
});

Deno.test("openai SDK images.generate with b64_json and SiliconFlow extras", async () => {
  await using gw = await startGateway({ fake: { image: () => tinyJpeg } });
  const res = await client(gw).images.generate({
    model: "Qwen/Qwen-Image",
    prompt: "a lighthouse",
    response_format: "b64_json",
    // SiliconFlow parameters ride along as extra body fields.
    ...{ negative_prompt: "blurry", seed: 7 },
  } as OpenAI.ImageGenerateParamsNonStreaming);
  assert.deepEqual(
    Uint8Array.from(atob(res.data?.[0].b64_json ?? ""), (c) => c.charCodeAt(0)),
    tinyJpeg,
  );
  assert.equal(gw.fake.generationCalls[0].body.negative_prompt, "blurry");
  assert.equal(gw.fake.generationCalls[0].body.seed, 7);
});

Deno.test("openai SDK models.list and models.retrieve see SiliconFlow's image models", async () => {
  await using gw = await startGateway();
  const ids = [];
  for await (const model of client(gw).models.list()) ids.push(model.id);
  assert.deepEqual(ids, [
    "Kwai-Kolors/Kolors",
    "Qwen/Qwen-Image",
    "Qwen/Qwen-Image-Edit",
    "Qwen/Qwen-Image-Edit-2509",
  ]);
  const one = await client(gw).models.retrieve("Qwen/Qwen-Image");
  assert.equal(one.id, "Qwen/Qwen-Image");
  assert.equal(one.object, "model");
});

Deno.test("openai SDK raises its own error classes with the gateway's error fields", async () => {
  await using gw = await startGateway();
  await assert.rejects(
    client(gw).images.generate({ model: "Kwai-Kolors/Kolors", prompt: "x", n: 9 }),
    (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal(err.status, 400);
      assert.equal(err.param, "n");
      assert.equal(err.code, "too_many_images");
      return true;
    },
  );
  await assert.rejects(
    client(gw, "wrong-key").images.generate({ prompt: "x" }),
    (err: unknown) => {
      assert.ok(err instanceof OpenAI.AuthenticationError);
      assert.equal(err.code, "invalid_api_key");
      return true;
    },
  );
  gw.fake.failNext({ status: 429, body: { message: "IPM limit reached." } });
  await assert.rejects(client(gw).images.generate({ prompt: "x" }), OpenAI.RateLimitError);
});

/**
 * openai-python (`src/openai/_base_client.py`, `_build_request`): `extra_body` is merged into the
 * top level of the JSON body, and `images.edit(image=[a, b])` sends each file as `image[]`
 * (`src/openai/resources/images.py`, `extract_files(…, paths=[["image", "<array>"]])`). Replayed as
 * it arrives, since the suite runs no Python.
 */
Deno.test("openai-python: extra_body arrives as top-level fields, a list of images as image[]", async () => {
  await using gw = await startGateway();
  const res = await gw.app.request("/v1/images/generations", {
    method: "POST",
    headers: {
      authorization: `Bearer ${GATEWAY_KEY}`,
      "content-type": "application/json",
      "user-agent": "OpenAI/Python 2.8.1",
    },
    // client.images.generate(model=…, prompt=…, size=…, extra_body={"negative_prompt": …, "seed": 7})
    body: JSON.stringify({
      model: "Qwen/Qwen-Image",
      prompt: "a lighthouse",
      size: "1328x1328",
      negative_prompt: "blurry",
      seed: 7,
    }),
  });
  assert.equal(res.status, 200);
  assert.match((await res.json()).data[0].url, /^http:\/\/localhost\/i\/[\w-]{16}\.png$/);
  assert.equal(gw.fake.generationCalls[0].body.negative_prompt, "blurry");
  assert.equal(gw.fake.generationCalls[0].body.seed, 7);

  const form = new FormData();
  form.set("model", "Qwen/Qwen-Image-Edit-2509");
  form.set("prompt", "merge them");
  form.append("image[]", new File([tinyPng], "a.png", { type: "image/png" }));
  form.append("image[]", new File([tinyJpeg], "b.jpg", { type: "image/jpeg" }));
  const edited = await gw.app.request("/v1/images/edits", {
    method: "POST",
    headers: { authorization: `Bearer ${GATEWAY_KEY}` },
    body: form,
  });
  assert.equal(edited.status, 200);
  assert.match(String(gw.fake.generationCalls[1].body.image2), /^data:image\/jpeg;base64,/);
});
