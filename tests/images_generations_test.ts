import assert from "node:assert/strict";
import { assertOpenAIError, bytesOf, linkPath, startGateway, UPSTREAM_KEY } from "./_helpers.ts";
import { randomPng, tinyJpeg, tinyPng } from "./_images.ts";

Deno.test("POST /v1/images/generations answers a durable link that outlives the upstream link", async () => {
  await using gw = await startGateway();
  const res = await gw.post("/v1/images/generations", {
    model: "Kwai-Kolors/Kolors",
    prompt: "a red fox in snow",
    size: "1024x1024",
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "kv");
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), [
    "created",
    "data",
    "model",
    "output_format",
    "timings",
  ]);
  assert.equal(body.model, "Kwai-Kolors/Kolors");
  assert.equal(body.output_format, "png");
  assert.deepEqual(body.timings, { inference: 1.25 });
  assert.equal(body.data.length, 1);
  const path = linkPath(body.data[0].url);
  assert.ok(body.data[0].url.startsWith("http://localhost/i/"));
  assert.deepEqual(gw.fake.generationCalls[0], {
    path: "/v1/images/generations",
    key: UPSTREAM_KEY,
    body: {
      model: "Kwai-Kolors/Kolors",
      prompt: "a red fox in snow",
      image_size: "1024x1024",
      batch_size: 1,
    },
  });

  gw.fake.expireAllLinks();
  const image = await gw.get(path, { key: null });
  assert.equal(image.status, 200);
  assert.equal(image.headers.get("content-type"), "image/png");
  assert.deepEqual(await bytesOf(image), tinyPng);
});
