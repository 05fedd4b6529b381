/**
 * The gateway behind the relays people put in front of it, new-api and one-api, replayed from
 * their source: what they rebuild, what they forward of a stream, and the URLs they build.
 *
 * @module
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { GATEWAY_KEY, listen, startGateway } from "../_support/gateway.ts";
import { base64Of, tinyJpeg, tinyPng } from "../_support/images.ts";

/**
 * one-api (songquanpeng/one-api `relay/adaptor/openai/main.go`, `StreamHandler`): reads the
 * upstream stream line by line and forwards only lines that start with `data: `; comments never
 * reach its client. It builds upstream URLs as `baseURL + "/v1/…"`
 * (`relay/adaptor/openai/adaptor.go` `GetRequestURL`), so a base URL ending in `/` sends `//v1/…`.
 */
function oneApi(upstreamBase: string) {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const upstream = await fetch(`${upstreamBase}${url.pathname}`, {
      method: req.method,
      headers: { authorization: `Bearer ${GATEWAY_KEY}`, "content-type": "application/json" },
      body: await req.text(),
    });
    if (!upstream.headers.get("content-type")?.startsWith("text/event-stream")) return upstream;
    const forwarded = upstream.body!.pipeThrough(new TextDecoderStream()).pipeThrough(lines())
      .pipeThrough(
        new TransformStream<string, string>({
          transform(line, controller) {
            if (line.startsWith("data: ")) controller.enqueue(`${line}\n\n`);
          },
        }),
      ).pipeThrough(new TextEncoderStream());
    return new Response(forwarded, { headers: { "content-type": "text/event-stream" } });
  });
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

function lines() {
  let rest = "";
  return new TransformStream<string, string>({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const part of parts) controller.enqueue(part);
    },
    flush(controller) {
      if (rest) controller.enqueue(rest);
    },
  });
}

Deno.test("one-api: with SSE_KEEPALIVE_FORMAT=data its clients see keep-alives, and the SDK ignores them", async () => {
  for (const format of ["comment", "data"]) {
    await using gw = await startGateway({
      env: { SSE_KEEPALIVE_SECONDS: "0.05", SSE_KEEPALIVE_FORMAT: format },
      fake: { delayMs: 400 },
    });
    await using gateway = listen(gw);
    // A base URL with a trailing slash: one-api then calls `//v1/chat/completions`.
    await using relay = oneApi(`${gateway.origin}/`);
    const res = await fetch(`${relay.origin}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({
        model: "Kwai-Kolors/Kolors",
        stream: true,
        messages: [{ role: "user", content: "a red fox" }],
      }),
    });
    const frames = (await res.text()).split("\n\n").filter(Boolean);
    const chunks = frames.filter((f) => f !== "data: [DONE]").map((f) => JSON.parse(f.slice(6)));
    // Every frame one-api forwards is a chunk with choices (SillyTavern crashes on one without).
    assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.choices.length === 1));
    const empty = chunks.filter((c) =>
      Object.keys(c.choices[0].delta).length === 0 && c.choices[0].finish_reason === null
    );
    if (format === "comment") assert.equal(empty.length, 0);
    else assert.ok(empty.length >= 4, `${empty.length} keep-alives reached the client`);
    assert.match(
      chunks.map((c) => c.choices[0].delta.content ?? "").join(""),
      /^!\[a red fox\]\(http:\/\/127\.0\.0\.1:\d+\/i\/[\w-]{16}\.png\)$/,
    );

    // The openai SDK streaming through the relay reads the same answer, keep-alives or not.
    const client = new OpenAI({
      baseURL: `${relay.origin}/v1`,
      apiKey: "relay-key",
      maxRetries: 0,
    });
    const stream = await client.chat.completions.create({
      model: "Kwai-Kolors/Kolors",
      stream: true,
      messages: [{ role: "user", content: "a red fox" }],
    });
    let content = "";
    for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? "";
    assert.match(content, /^!\[a red fox\]\(http:\/\/127\.0\.0\.1:\d+\/i\/[\w-]{16}\.png\)$/);
  }
});

Deno.test("image streams: data keep-alives are keepalive events the openai SDK yields and callers skip", async () => {
  await using gw = await startGateway({
    env: { SSE_KEEPALIVE_SECONDS: "0.05", SSE_KEEPALIVE_FORMAT: "data" },
    fake: { delayMs: 300 },
  });
  await using gateway = listen(gw);
  const client = new OpenAI({
    baseURL: `${gateway.origin}/v1`,
    apiKey: GATEWAY_KEY,
    maxRetries: 0,
  });
  const stream = await client.images.generate({
    model: "Kwai-Kolors/Kolors",
    prompt: "a fox",
    stream: true,
  });
  const types: string[] = [];
  let b64 = "";
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === "image_generation.completed") b64 = event.b64_json;
  }
  assert.ok(types.length >= 4, types.join());
  assert.deepEqual(new Set(types.slice(0, -1)), new Set(["keepalive"]));
  assert.equal(types.at(-1), "image_generation.completed");
  assert.equal(b64, base64Of(tinyPng));
});

/**
 * new-api (QuantumNous/new-api `dto/openai_image.go`, `relay/image_handler.go`): `ImageRequest`
 * keeps only the fields it knows (model, prompt, n, size, quality, response_format, style, user,
 * image, extra_fields, …) and re-serialises them with keys sorted, `n` filled in; other top-level
 * fields are dropped, and `extra_fields` goes on as the JSON value it was. Edits are rebuilt as
 * multipart (`relay/channel/openai/adaptor.go`): `model` first, the other text fields, then one
 * file as `image` or several as `image[]`, typed by their extension.
 */
Deno.test("new-api: SiliconFlow's extras that it moved into extra_fields still reach SiliconFlow", async () => {
  await using gw = await startGateway();
  await using gateway = listen(gw);
  const res = await fetch(`${gateway.origin}/v1/images/generations`, {
    method: "POST",
    headers: { authorization: `Bearer ${GATEWAY_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      extra_fields: { negative_prompt: "blurry", seed: 42, num_inference_steps: 30, cfg: 4 },
      model: "Qwen/Qwen-Image",
      n: 1,
      prompt: "a lighthouse at dusk",
      response_format: "url",
      size: "1664x928",
    }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  // new-api unmarshals this into dto.ImageResponse: created, and data[] with a non-empty url.
  assert.equal(typeof body.created, "number");
  assert.match(body.data[0].url, /^http:\/\/127\.0\.0\.1:\d+\/i\/[\w-]{16}\.png$/);
  assert.deepEqual(gw.fake.generationCalls[0].body, {
    model: "Qwen/Qwen-Image",
    prompt: "a lighthouse at dusk",
    image_size: "1664x928",
    negative_prompt: "blurry",
    seed: 42,
    num_inference_steps: 30,
    cfg: 4,
  });
});

Deno.test("new-api: a rebuilt multipart edit with image[] and its text fields", async () => {
  await using gw = await startGateway();
  await using gateway = listen(gw);
  const form = new FormData();
  form.set("model", "Qwen/Qwen-Image-Edit-2509");
  form.set("seed", "11");
  form.set("prompt", "put the cat on the sofa");
  form.set("n", "1");
  form.append("image[]", new File([tinyPng], "cat.png", { type: "image/png" }));
  form.append("image[]", new File([tinyJpeg], "sofa.jpg", { type: "image/jpeg" }));
  const res = await fetch(`${gateway.origin}/v1/images/edits`, {
    method: "POST",
    headers: { authorization: `Bearer ${GATEWAY_KEY}` },
    body: form,
  });
  assert.equal(res.status, 200);
  assert.match((await res.json()).data[0].url, /^http:\/\/127\.0\.0\.1:\d+\/i\/[\w-]{16}\.png$/);
  const sent = gw.fake.generationCalls[0].body;
  assert.equal(sent.seed, 11);
  assert.match(String(sent.image), /^data:image\/png;base64,/);
  assert.match(String(sent.image2), /^data:image\/jpeg;base64,/);
});
