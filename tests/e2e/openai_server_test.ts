/**
 * End to end over a real socket: the official `openai` package against the gateway served by
 * `Deno.serve` on port 0, with the fake SiliconFlow behind it — generate, edit with one and with
 * three files, stream, and list models, as a user's program would.
 *
 * @module
 */
import assert from "node:assert/strict";
import OpenAI, { toFile } from "openai";
import { GATEWAY_KEY, startGateway } from "../_support/gateway.ts";
import { base64Of, tinyJpeg, tinyPng, tinyWebp } from "../_support/images.ts";

Deno.test("the openai package generates, edits, streams and lists models through a running gateway", async () => {
  await using gw = await startGateway();
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    gw.app.fetch,
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const client = new OpenAI({ baseURL: `${origin}/v1`, apiKey: GATEWAY_KEY, maxRetries: 0 });

  const generated = await client.images.generate({ model: "Kwai-Kolors/Kolors", prompt: "a fox" });
  const url = generated.data?.[0].url ?? "";
  assert.match(url, new RegExp(`^${origin}/i/[\\w-]{16}\\.png$`));
  const image = await fetch(url);
  assert.equal(image.headers.get("content-type"), "image/png");
  assert.deepEqual(new Uint8Array(await image.arrayBuffer()), tinyPng);

  const one = await client.images.edit({
    model: "Qwen/Qwen-Image-Edit",
    image: await toFile(tinyJpeg, "cat.jpg", { type: "image/jpeg" }),
    prompt: "make it blue",
  });
  assert.match(one.data?.[0].url ?? "", /\/i\/[\w-]{16}\.png$/);
  const three = await client.images.edit({
    model: "Qwen/Qwen-Image-Edit-2509",
    image: [
      await toFile(tinyPng, "a.png", { type: "image/png" }),
      await toFile(tinyJpeg, "b.jpg", { type: "image/jpeg" }),
      await toFile(tinyWebp, "c.webp", { type: "image/webp" }),
    ],
    prompt: "put them together",
    response_format: "b64_json",
  });
  assert.equal(three.data?.[0].b64_json, base64Of(tinyPng));
  const [, editOne, editThree] = gw.fake.generationCalls.map((c) => c.body);
  assert.equal(editOne.image, `data:image/jpeg;base64,${base64Of(tinyJpeg)}`);
  assert.deepEqual([editThree.image, editThree.image2, editThree.image3], [
    `data:image/png;base64,${base64Of(tinyPng)}`,
    `data:image/jpeg;base64,${base64Of(tinyJpeg)}`,
    `data:image/webp;base64,${base64Of(tinyWebp)}`,
  ]);

  const stream = await client.images.generate({
    model: "Qwen/Qwen-Image",
    prompt: "x",
    stream: true,
  });
  const types = [];
  for await (const event of stream) types.push(event.type);
  assert.deepEqual(types, ["image_generation.completed"]);

  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.ok(ids.includes("Qwen/Qwen-Image-Edit-2509"));
});
