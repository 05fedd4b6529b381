/**
 * `output_format` and `output_compression` on every endpoint that answers images (generations,
 * edits, image streams, `b64_json`, chat with `CHAT_IMAGE_FORMAT`), through the app with a fake
 * converter: the link carries the asked extension, `b64_json` the converted bytes, the answer's
 * `output_format` names what was sent, the original is kept, and a failed conversion still hands
 * over the paid image.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  assertBytes,
  assertOpenAIError,
  bytesOf,
  linkPath,
  startGateway,
  type TestGateway,
} from "../_support/gateway.ts";
import { randomPng, tinyJpeg, tinyPng, tinyWebp } from "../_support/images.ts";
import { readSse } from "../_support/sse.ts";
import { fakeConverter, tinyAvif } from "../_support/variants.ts";
import { getImageMeta } from "../../lib/storage/image_meta.ts";
import { GatewayError } from "../../lib/errors.ts";

const GENERATIONS = "/v1/images/generations";
const original = randomPng(64, 48);
const LINK = /^http:\/\/localhost\/i\/([A-Za-z0-9_-]{16})\.(\w+)(\?q=\d+)?$/;

async function gateway(env: Record<string, string> = {}, fake = fakeConverter()) {
  const gw = await startGateway({ fake: { image: () => original }, convert: fake.convert, env });
  return { gw, fake };
}

/** The id, extension and `?q=` of an answer's link. */
function linkParts(url: string) {
  const match = LINK.exec(url);
  assert.ok(match, url);
  return { id: match[1], ext: match[2], query: match[3] ?? "" };
}

async function fetchImage(gw: TestGateway, url: string) {
  const res = await gw.get(linkPath(url) + (linkParts(url).query), { key: null });
  assert.equal(res.status, 200, url);
  return { type: res.headers.get("content-type"), bytes: await bytesOf(res) };
}

const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

Deno.test("output_format links each generated image as the asked format, converted at once, the original kept", async () => {
  for (
    const [format, ext, type, bytes] of [
      ["webp", "webp", "image/webp", tinyWebp],
      ["jpeg", "jpg", "image/jpeg", tinyJpeg],
      ["JPG", "jpg", "image/jpeg", tinyJpeg],
      ["avif", "avif", "image/avif", tinyAvif],
    ] as const
  ) {
    const { gw, fake } = await gateway();
    await using _ = gw;
    const res = await gw.post(GENERATIONS, { prompt: "x", n: 2, output_format: format });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.output_format, ext === "jpg" ? "jpeg" : format);
    assert.equal(body.data.length, 2);
    // Made before the answer: one conversion per image, none when the links are fetched.
    assert.equal(fake.calls.length, 2);
    for (const item of body.data) {
      const { id, ext: linked } = linkParts(item.url);
      assert.equal(linked, ext);
      assert.deepEqual(await fetchImage(gw, item.url), { type, bytes });
      const png = await gw.get(`/i/${id}.png`, { key: null });
      assertBytes(await bytesOf(png), original, "the original");
      const meta = await getImageMeta(gw.kv, id, Date.now());
      assert.deepEqual(Object.keys(meta?.variants ?? {}), [`${ext === "jpg" ? "jpeg" : ext}-full`]);
    }
    assert.equal(fake.calls.length, 2);
  }
});

Deno.test("output_format png of a PNG converts nothing, and its compression is ignored", async () => {
  const { gw, fake } = await gateway();
  await using _ = gw;
  const body = await (await gw.post(GENERATIONS, {
    prompt: "x",
    output_format: "png",
    output_compression: 40,
  })).json();
  assert.equal(body.output_format, "png");
  assert.equal(linkParts(body.data[0].url).ext, "png");
  assert.equal(linkParts(body.data[0].url).query, "");
  assert.deepEqual(fake.calls, []);
});

Deno.test("output_compression makes its own variant, linked with ?q=, which a link finds but never makes", async () => {
  const { gw, fake } = await gateway();
  await using _ = gw;
  const body = await (await gw.post(GENERATIONS, {
    prompt: "x",
    output_format: "webp",
    output_compression: "50",
  })).json();
  const { id, ext, query } = linkParts(body.data[0].url);
  assert.deepEqual([ext, query], ["webp", "?q=50"]);
  assert.deepEqual(fake.calls, [{ format: "webp", width: undefined, compression: 50 }]);
  assert.deepEqual(await fetchImage(gw, body.data[0].url), { type: "image/webp", bytes: tinyWebp });
  // Another compression by link: not made (a link may not multiply variants), a 404.
  await assertOpenAIError(await gw.get(`/i/${id}.webp?q=51`, { key: null }), 404, {
    type: "invalid_request_error",
    code: "not_found",
  });
  await assertOpenAIError(await gw.get(`/i/${id}.webp?q=101`, { key: null }), 400, { param: "q" });
  await assertOpenAIError(await gw.get(`/i/${id}.webp?q=-1`, { key: null }), 400, { param: "q" });
  assert.equal(fake.calls.length, 1);
});

Deno.test("b64_json carries the converted bytes, and the answer names their format", async () => {
  const { gw } = await gateway();
  await using _ = gw;
  const res = await gw.post(GENERATIONS, {
    prompt: "x",
    response_format: "b64_json",
    output_format: "webp",
  });
  const body = await res.json();
  assert.equal(body.output_format, "webp");
  assert.deepEqual(Object.keys(body.data[0]).sort(), ["b64_json", "seed"]);
  assertBytes(decode(body.data[0].b64_json), tinyWebp);
});

Deno.test("image streams send the converted bytes and output_format in their completed event", async () => {
  const { gw } = await gateway();
  await using _ = gw;
  const res = await gw.post(GENERATIONS, { prompt: "x", stream: true, output_format: "jpeg" });
  assert.equal(res.status, 200);
  const frames = await readSse(res);
  const done = frames.data[0] as { type: string; b64_json: string; output_format: string };
  assert.equal(done.type, "image_generation.completed");
  assert.equal(done.output_format, "jpeg");
  assertBytes(decode(done.b64_json), tinyJpeg);
});

Deno.test("edits take output_format and output_compression from their multipart form", async () => {
  const { gw, fake } = await gateway();
  await using _ = gw;
  const form = new FormData();
  form.append("model", "Qwen/Qwen-Image-Edit");
  form.append("prompt", "make it blue");
  form.append("output_format", "webp");
  form.append("output_compression", "70");
  form.append("image", new File([tinyPng], "a.png", { type: "image/png" }));
  const res = await gw.app.request("/v1/images/edits", {
    method: "POST",
    headers: { authorization: `Bearer ${"gw-test-key-0123456789"}` },
    body: form,
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.output_format, "webp");
  assert.deepEqual(linkParts(body.data[0].url).query, "?q=70");
  assert.deepEqual(fake.calls, [{ format: "webp", width: undefined, compression: 70 }]);
});

Deno.test("a bad output_format or output_compression is a 400 naming it, before anything is paid", async () => {
  const { gw } = await gateway();
  await using _ = gw;
  await assertOpenAIError(
    await gw.post(GENERATIONS, { prompt: "x", output_format: "gif" }),
    400,
    {
      type: "invalid_request_error",
      param: "output_format",
      message: 'output_format must be "png", "jpeg", "webp" or "avif"',
    },
  );
  for (const compression of [101, -1, 1.5, "high"]) {
    await assertOpenAIError(
      await gw.post(GENERATIONS, { prompt: "x", output_compression: compression }),
      400,
      { type: "invalid_request_error", param: "output_compression" },
    );
  }
  assert.equal(gw.fake.generationCalls.length, 0);
});

Deno.test("an image that cannot be converted is answered as the original, named so, with a warning", async () => {
  const fake = fakeConverter();
  fake.before = () => {
    throw new GatewayError(503, "server_error", "Image conversion is busy", { code: "busy" });
  };
  const { gw } = await gateway({}, fake);
  await using _ = gw;
  const res = await gw.post(GENERATIONS, {
    prompt: "x",
    response_format: "b64_json",
    output_format: "webp",
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.output_format, "png");
  assertBytes(decode(body.data[0].b64_json), original);
  assert.equal(gw.log.warnings.length, 1);
  assert.match(
    gw.log.warnings[0],
    /^cannot convert image [\w-]{16} to webp; answering the original: /,
  );
});

Deno.test("a retried request with output_format is given the same converted answer again", async () => {
  const { gw, fake } = await gateway();
  await using _ = gw;
  const ask = () =>
    gw.app.request(GENERATIONS, {
      method: "POST",
      headers: {
        authorization: "Bearer gw-test-key-0123456789",
        "content-type": "application/json",
        "idempotency-key": "k-1",
      },
      body: JSON.stringify({ prompt: "x", response_format: "b64_json", output_format: "avif" }),
    });
  const first = await (await ask()).json();
  const again = await ask();
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  const second = await again.json();
  assert.equal(second.output_format, "avif");
  assert.equal(second.data[0].b64_json, first.data[0].b64_json);
  assertBytes(decode(second.data[0].b64_json), tinyAvif);
  assert.equal(fake.calls.length, 1);
  assert.equal(gw.fake.generationCalls.length, 1);
});

Deno.test("chat links its images in CHAT_IMAGE_FORMAT, and a request's own output_format wins", async () => {
  const { gw, fake } = await gateway({ CHAT_IMAGE_FORMAT: "webp" });
  await using _ = gw;
  const chat = async (extra: Record<string, unknown>) => {
    const res = await gw.post("/v1/chat/completions", {
      model: "Kwai-Kolors/Kolors",
      messages: [{ role: "user", content: "a red fox" }],
      ...extra,
    });
    assert.equal(res.status, 200);
    const text: string = (await res.json()).choices[0].message.content;
    const link = /\((http:\/\/localhost\/i\/[^)]+)\)/.exec(text)?.[1];
    assert.ok(link, text);
    return link;
  };
  const webp = await chat({});
  assert.equal(linkParts(webp).ext, "webp");
  assert.deepEqual(await fetchImage(gw, webp), { type: "image/webp", bytes: tinyWebp });
  const jpeg = await chat({ output_format: "jpeg" });
  assert.equal(linkParts(jpeg).ext, "jpg");
  assert.deepEqual(fake.calls.map((c) => c.format), ["webp", "jpeg"]);
});

Deno.test("chat keeps the original links with CHAT_IMAGE_FORMAT=png, the default", async () => {
  const { gw, fake } = await gateway();
  await using _ = gw;
  const res = await gw.post("/v1/chat/completions", {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a red fox" }],
  });
  const text: string = (await res.json()).choices[0].message.content;
  assert.match(text, /\(http:\/\/localhost\/i\/[A-Za-z0-9_-]{16}\.png\)/);
  assert.deepEqual(fake.calls, []);
});
