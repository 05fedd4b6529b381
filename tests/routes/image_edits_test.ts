/**
 * `POST /v1/images/edits`: every spelling clients use for the input images (openai-wire-formats.md
 * §3), the JSON form, limits, and the official `openai` package's `images.edit`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { toFile } from "openai";
import {
  assertOpenAIError,
  bytesOf,
  GATEWAY_KEY,
  linkPath,
  openaiClient,
  startGateway,
  type TestGateway,
  UPSTREAM_KEY,
} from "../_support/gateway.ts";
import { tinyGif, tinyJpeg, tinyPng, tinyWebp } from "../_support/images.ts";
import {
  MAX_INPUT_IMAGE_BYTES,
  MAX_INPUT_IMAGES_TOTAL_BYTES,
} from "../../lib/openai/edit_images.ts";

const EDITS = "/v1/images/edits";
const EDIT = "Qwen/Qwen-Image-Edit";
const EDIT_2509 = "Qwen/Qwen-Image-Edit-2509";
const MASK_NOTE = "SiliconFlow has no mask support; the mask was ignored";

/** Computed here, independently of the gateway's own encoder. */
const dataUri = (mime: string, bytes: Uint8Array) =>
  `data:${mime};base64,${btoa(String.fromCharCode(...bytes))}`;
const PNG_URI = dataUri("image/png", tinyPng);
const JPEG_URI = dataUri("image/jpeg", tinyJpeg);
const WEBP_URI = dataUri("image/webp", tinyWebp);

function file(bytes: Uint8Array, name = "a.png", type = "image/png"): File {
  return new File([bytes as Uint8Array<ArrayBuffer>], name, { type });
}

/** A form with the text fields first, then each `[field, value]` in order. */
function form(fields: Record<string, string>, parts: [string, File | string][] = []): FormData {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) data.append(name, value);
  for (const [name, value] of parts) data.append(name, value);
  return data;
}

async function edit(
  gw: TestGateway,
  body: FormData | Record<string, unknown>,
  { key = GATEWAY_KEY as string | null } = {},
): Promise<Response> {
  const headers: Record<string, string> = key === null ? {} : { authorization: `Bearer ${key}` };
  if (body instanceof FormData) {
    return await gw.app.request(EDITS, { method: "POST", headers, body });
  }
  headers["content-type"] = "application/json";
  return await gw.app.request(EDITS, { method: "POST", headers, body: JSON.stringify(body) });
}

/** The bodies SiliconFlow received. */
const upstreamBodies = (gw: TestGateway) => gw.fake.generationCalls.map((c) => c.body);

Deno.test("POST /v1/images/edits with one image file answers like generations, with a durable link", async () => {
  await using gw = await startGateway({ fake: { image: () => tinyJpeg } });
  const res = await edit(gw, form({ prompt: "make it snow" }, [["image", file(tinyPng)]]));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("x-image-storage"), "kv");
  assert.equal(res.headers.get("x-mask-ignored"), null);
  const body = await res.json();
  const path = linkPath(body.data[0].url);
  assert.deepEqual(body, {
    created: body.created,
    data: [{ url: `http://localhost${path}`, seed: 123456789 }],
    model: EDIT,
    output_format: "jpeg",
    timings: { inference: 1.25 },
  });
  assert.deepEqual(gw.fake.generationCalls, [{
    path: "/v1/images/generations",
    key: UPSTREAM_KEY,
    body: { model: EDIT, prompt: "make it snow", image: PNG_URI },
  }]);

  // The same keys as a generation's answer from the same model.
  const generated = await (await gw.post("/v1/images/generations", {
    model: EDIT,
    prompt: "x",
    image: PNG_URI,
  })).json();
  assert.deepEqual(Object.keys(body).sort(), Object.keys(generated).sort());
  assert.deepEqual(Object.keys(body.data[0]).sort(), Object.keys(generated.data[0]).sort());

  gw.fake.expireAllLinks();
  const image = await gw.get(path, { key: null });
  assert.equal(image.status, 200);
  assert.equal(image.headers.get("content-type"), "image/jpeg");
  assert.deepEqual(await bytesOf(image), tinyJpeg);
});

Deno.test("POST /v1/images/edits takes repeated image fields in arrival order and picks Qwen-Image-Edit-2509", async () => {
  await using gw = await startGateway();
  const res = await edit(
    gw,
    form({ prompt: "combine them" }, [
      ["image", file(tinyJpeg, "b.jpg", "image/jpeg")],
      ["image", file(tinyPng)],
      ["image", file(tinyWebp, "c.webp", "image/webp")],
    ]),
  );
  assert.equal(res.status, 200);
  assert.equal((await res.json()).model, EDIT_2509);
  assert.deepEqual(upstreamBodies(gw), [{
    model: EDIT_2509,
    prompt: "combine them",
    image: JPEG_URI,
    image2: PNG_URI,
    image3: WEBP_URI,
  }]);
});

Deno.test("POST /v1/images/edits takes image[] as the openai SDK and curl docs send it", async () => {
  await using gw = await startGateway();
  const res = await edit(
    gw,
    form({ prompt: "combine", model: EDIT_2509 }, [
      ["image[]", file(tinyWebp, "c.webp", "image/webp")],
      ["image[]", file(tinyPng)],
      ["image[]", file(tinyJpeg, "b.jpg", "image/jpeg")],
    ]),
  );
  assert.equal(res.status, 200);
  assert.deepEqual(upstreamBodies(gw), [{
    model: EDIT_2509,
    prompt: "combine",
    image: WEBP_URI,
    image2: PNG_URI,
    image3: JPEG_URI,
  }]);
});

Deno.test("POST /v1/images/edits orders image[N] fields by N whatever order they arrive in", async () => {
  await using gw = await startGateway();
  const res = await edit(
    gw,
    form({ prompt: "combine", model: EDIT_2509 }, [
      ["image[2]", file(tinyWebp, "c.webp", "image/webp")],
      ["image[0]", file(tinyPng)],
      ["image[1]", file(tinyJpeg, "b.jpg", "image/jpeg")],
    ]),
  );
  assert.equal(res.status, 200);
  assert.deepEqual(upstreamBodies(gw), [{
    model: EDIT_2509,
    prompt: "combine",
    image: PNG_URI,
    image2: JPEG_URI,
    image3: WEBP_URI,
  }]);
});

Deno.test("POST /v1/images/edits takes images and images[] fields", async () => {
  for (const field of ["images", "images[]"]) {
    await using gw = await startGateway();
    const res = await edit(
      gw,
      form({ prompt: "combine" }, [
        [field, file(tinyJpeg, "b.jpg", "image/jpeg")],
        [field, file(tinyPng)],
      ]),
    );
    assert.equal(res.status, 200, field);
    assert.deepEqual(upstreamBodies(gw), [{
      model: EDIT_2509,
      prompt: "combine",
      image: JPEG_URI,
      image2: PNG_URI,
    }], field);
  }
});

Deno.test("POST /v1/images/edits accepts a mask, leaves it out upstream and says so in a header", async () => {
  for (const field of ["mask", "mask[]"]) {
    await using gw = await startGateway();
    const res = await edit(
      gw,
      form({ prompt: "fill the hole" }, [
        ["image", file(tinyPng)],
        [field, file(tinyGif, "mask.gif", "image/gif")],
      ]),
    );
    assert.equal(res.status, 200, field);
    assert.equal(res.headers.get("x-mask-ignored"), MASK_NOTE);
    assert.deepEqual(upstreamBodies(gw), [{
      model: EDIT,
      prompt: "fill the hole",
      image: PNG_URI,
    }]);
  }
});

Deno.test("POST /v1/images/edits takes data URIs and URLs in form text fields and skips blank ones", async () => {
  await using gw = await startGateway();
  const res = await edit(
    gw,
    form({ prompt: "x" }, [
      ["image[]", ""],
      ["image[]", JPEG_URI],
      // What a browser form sends for a file input left empty.
      ["image[]", new File([], "", { type: "application/octet-stream" })],
      ["image[]", "https://example.com/cat.png"],
      ["mask", new File([], "")],
    ]),
  );
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-mask-ignored"), null);
  assert.deepEqual(upstreamBodies(gw), [{
    model: EDIT_2509,
    prompt: "x",
    image: JPEG_URI,
    image2: "https://example.com/cat.png",
  }]);
});

Deno.test("POST /v1/images/edits types uploads by content, not by name or declared type", async () => {
  await using gw = await startGateway();
  const res = await edit(
    gw,
    form({ prompt: "x" }, [["image", file(tinyJpeg, "really-a-jpeg.png", "image/png")]]),
  );
  assert.equal(res.status, 200);
  assert.deepEqual(upstreamBodies(gw), [{ model: EDIT, prompt: "x", image: JPEG_URI }]);
});

Deno.test("POST /v1/images/edits reads n, response_format, SiliconFlow fields and ignores GPT-image fields", async () => {
  await using gw = await startGateway({ fake: { image: () => tinyJpeg } });
  const res = await edit(
    gw,
    form({
      prompt: "x",
      model: EDIT,
      n: "2",
      response_format: "b64_json",
      sf_seed: "7",
      negative_prompt: "blurry",
      num_inference_steps: "30",
      stream: "false",
      input_fidelity: "high",
      quality: "high",
      background: "transparent",
      user: "u-1",
    }, [["image", file(tinyPng)]]),
  );
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.data.length, 2);
  for (const item of body.data) {
    assert.deepEqual(Object.keys(item).sort(), ["b64_json", "seed"]);
    assert.deepEqual(Uint8Array.from(atob(item.b64_json), (c) => c.charCodeAt(0)), tinyJpeg);
  }
  const common = {
    model: EDIT,
    prompt: "x",
    negative_prompt: "blurry",
    num_inference_steps: 30,
    image: PNG_URI,
  };
  assert.deepEqual(
    upstreamBodies(gw).sort((a, b) => Number(a.seed) - Number(b.seed)),
    [{ ...common, seed: 7 }, { ...common, seed: 8 }],
  );
});

Deno.test("POST /v1/images/edits lets Kolors take its one input image", async () => {
  await using gw = await startGateway();
  const res = await edit(
    gw,
    form({ prompt: "watercolour", model: "Kwai-Kolors/Kolors" }, [["image", file(tinyPng)]]),
  );
  assert.equal(res.status, 200);
  assert.deepEqual(upstreamBodies(gw), [{
    model: "Kwai-Kolors/Kolors",
    prompt: "watercolour",
    image: PNG_URI,
    image_size: "1024x1024",
    batch_size: 1,
  }]);
});

Deno.test("POST /v1/images/edits uses DEFAULT_IMAGE_MODEL when it is an edit model taking the images", async () => {
  await using gw = await startGateway({ env: { DEFAULT_IMAGE_MODEL: EDIT_2509 } });
  const res = await edit(gw, form({ prompt: "x" }, [["image", file(tinyPng)]]));
  assert.equal(res.status, 200);
  assert.deepEqual(upstreamBodies(gw), [{ model: EDIT_2509, prompt: "x", image: PNG_URI }]);
});

Deno.test("POST /v1/images/edits refuses more images than the model takes, before any upstream call", async () => {
  await using gw = await startGateway();
  const cases: [string, number, RegExp][] = [
    [
      EDIT,
      2,
      /^Qwen\/Qwen-Image-Edit takes at most 1 input image\(s\); the request has 2; Qwen\/Qwen-Image-Edit-2509 takes up to 3$/,
    ],
    [
      EDIT_2509,
      4,
      /^Qwen\/Qwen-Image-Edit-2509 takes at most 3 input image\(s\); the request has 4$/,
    ],
    ["Kwai-Kolors/Kolors", 2, /^Kwai-Kolors\/Kolors takes at most 1/],
  ];
  for (const [model, count, message] of cases) {
    const parts = Array.from({ length: count }, () => ["image[]", file(tinyPng)] as [string, File]);
    const res = await edit(gw, form({ prompt: "x", model }, parts));
    await assertOpenAIError(res, 400, { param: "image", code: "too_many_images", message });
  }
  // Without a model, four images go to the model taking the most, which still refuses.
  const parts = Array.from({ length: 4 }, () => ["image", file(tinyPng)] as [string, File]);
  await assertOpenAIError(await edit(gw, form({ prompt: "x" }, parts)), 400, {
    param: "image",
    code: "too_many_images",
  });
  assert.deepEqual(gw.fake.generationCalls, []);
});

Deno.test("POST /v1/images/edits needs an image, a prompt and a model that takes images", async () => {
  await using gw = await startGateway();
  await assertOpenAIError(await edit(gw, form({ prompt: "x" })), 400, {
    param: "image",
    code: "missing_image",
    message: /^An edit needs an input image: send it as a file under "image"/,
  });
  await assertOpenAIError(await edit(gw, { prompt: "x", model: EDIT_2509 }), 400, {
    param: "image",
    code: "missing_image",
  });
  await assertOpenAIError(await edit(gw, form({}, [["image", file(tinyPng)]])), 400, {
    param: "prompt",
  });
  assert.deepEqual(gw.fake.generationCalls, []);
});

Deno.test("POST /v1/images/edits sends edits for models that take no image to an edit model, and says so", async () => {
  await using gw = await startGateway({
    env: { MODEL_ALIASES: "gpt-image-1=Qwen/Qwen-Image" },
  });
  for (const model of ["Qwen/Qwen-Image", "gpt-image-1", "dall-e-2"]) {
    const res = await edit(gw, form({ prompt: "x", model }, [["image", file(tinyPng)]]));
    assert.equal(res.status, 200, model);
    assert.equal(res.headers.get("x-model-substituted"), `${model} -> Qwen/Qwen-Image-Edit`);
    await res.body?.cancel();
  }
  assert.deepEqual(
    gw.fake.generationCalls.map((c) => c.body.model),
    ["Qwen/Qwen-Image-Edit", "Qwen/Qwen-Image-Edit", "Qwen/Qwen-Image-Edit"],
  );
});

Deno.test("POST /v1/images/edits refuses a file that is not an image, naming the field and file", async () => {
  await using gw = await startGateway();
  const text = new TextEncoder().encode("just some notes, not a picture");
  const res = await edit(
    gw,
    form({ prompt: "x" }, [
      ["image[]", file(tinyPng)],
      ["image[]", file(text, "notes.png", "image/png")],
    ]),
  );
  await assertOpenAIError(res, 400, {
    param: "image[]",
    code: "invalid_image",
    message:
      /^Input image 2 \(image\[\], file "notes\.png"\) is not a PNG, JPEG, WebP or GIF image/,
  });
  await assertOpenAIError(
    await edit(gw, form({ prompt: "x" }, [["image", file(new Uint8Array(), "empty.png")]])),
    400,
    { param: "image", code: "invalid_image" },
  );
  assert.deepEqual(gw.fake.generationCalls, []);
});

/** A file that starts like a PNG, `bytes` long. */
function bigPng(bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out.set(tinyPng.subarray(0, 8));
  return out;
}

Deno.test("POST /v1/images/edits answers 413 for a file over the per-file limit, naming limit and file", async () => {
  await using gw = await startGateway();
  const res = await edit(
    gw,
    form({ prompt: "x" }, [["image", file(bigPng(MAX_INPUT_IMAGE_BYTES + 1), "huge.png")]]),
  );
  await assertOpenAIError(res, 413, {
    type: "invalid_request_error",
    param: "image",
    code: "payload_too_large",
    message: new RegExp(
      `^Input image 1 \\(image, file "huge\\.png"\\) is ${MAX_INPUT_IMAGE_BYTES + 1} bytes; ` +
        `each input image may be at most 10 MB \\(${MAX_INPUT_IMAGE_BYTES} bytes\\)$`,
    ),
  });
  assert.deepEqual(gw.fake.generationCalls, []);
});

Deno.test("POST /v1/images/edits answers 413 when the images together are over the per-request limit", async () => {
  await using gw = await startGateway();
  const each = 9 * 1024 * 1024;
  const parts = ["a", "b", "c"].map((n) => ["image[]", file(bigPng(each), `${n}.png`)]) as [
    string,
    File,
  ][];
  const res = await edit(gw, form({ prompt: "x", model: EDIT_2509 }, parts));
  await assertOpenAIError(res, 413, {
    param: "image",
    code: "payload_too_large",
    message: new RegExp(
      `^The 3 input images are ${3 * each} bytes together; a request may carry at most 25 MB ` +
        `\\(${MAX_INPUT_IMAGES_TOTAL_BYTES} bytes\\) of images$`,
    ),
  });
  assert.deepEqual(gw.fake.generationCalls, []);
});

Deno.test("POST /v1/images/edits takes JSON with image as a data URI, an array, images, or image_url objects", async () => {
  const cases: [Record<string, unknown>, Record<string, string>][] = [
    [{ image: PNG_URI }, { image: PNG_URI }],
    [{ image: [JPEG_URI, PNG_URI] }, { image: JPEG_URI, image2: PNG_URI }],
    [{ images: [WEBP_URI, JPEG_URI, PNG_URI] }, {
      image: WEBP_URI,
      image2: JPEG_URI,
      image3: PNG_URI,
    }],
    [{ image: { image_url: { url: JPEG_URI } } }, { image: JPEG_URI }],
    [{ image: [{ image_url: PNG_URI }, { image_url: { url: WEBP_URI } }] }, {
      image: PNG_URI,
      image2: WEBP_URI,
    }],
    // SiliconFlow's own spelling, and its example's space after the comma.
    [{ image: `data:image/png;base64, ${PNG_URI.split(",")[1]}`, image2: JPEG_URI }, {
      image: PNG_URI,
      image2: JPEG_URI,
    }],
    // The declared type is corrected from the content.
    [{ image: `data:application/octet-stream;base64,${JPEG_URI.split(",")[1]}` }, {
      image: JPEG_URI,
    }],
    [{ image: "https://example.com/cat.png" }, { image: "https://example.com/cat.png" }],
  ];
  for (const [images, expected] of cases) {
    await using gw = await startGateway();
    const res = await edit(gw, { prompt: "x", ...images });
    assert.equal(res.status, 200, JSON.stringify(images).slice(0, 200));
    const model = Object.keys(expected).length > 1 ? EDIT_2509 : EDIT;
    assert.deepEqual(upstreamBodies(gw), [{ model, prompt: "x", ...expected }]);
  }
});

Deno.test("POST /v1/images/edits sends our own /i/ links inline as data URIs", async () => {
  await using gw = await startGateway({ fake: { image: () => tinyWebp } });
  const made = await (await gw.post("/v1/images/generations", { prompt: "a cat" })).json();
  const res = await edit(gw, { prompt: "give it a hat", image: made.data[0].url });
  assert.equal(res.status, 200);
  assert.deepEqual(upstreamBodies(gw)[1], {
    model: EDIT,
    prompt: "give it a hat",
    image: WEBP_URI,
  });

  const gone = made.data[0].url.replace(/\/i\/[^.]+/, "/i/AAAAAAAAAAAAAAAA");
  await assertOpenAIError(await edit(gw, { prompt: "x", image: gone }), 400, {
    param: "image",
    code: "image_not_found",
  });
});

Deno.test("POST /v1/images/edits refuses JSON images that are neither images nor URLs", async () => {
  await using gw = await startGateway();
  const notImage = `data:image/png;base64,${btoa("hello, world, not a png")}`;
  const cases: [Record<string, unknown>, string, string, RegExp][] = [
    [{ image: notImage }, "image", "invalid_image", /^Input image 1 \(image\) is not a PNG/],
    [{ image: [PNG_URI, "cat.png"] }, "image", "invalid_image", /^Input image 2 \(image\[1\]\)/],
    [{ images: [{ url: PNG_URI }] }, "images", "invalid_image", /cannot be used/],
    [{ image: "data:image/png;base64,@@@" }, "image", "invalid_image", /cannot be used/],
    [{ image: 42 }, "image", "invalid_image", /cannot be used/],
  ];
  for (const [body, param, code, message] of cases) {
    await assertOpenAIError(await edit(gw, { prompt: "x", ...body }), 400, {
      param,
      code,
      message,
    });
  }
  await assertOpenAIError(
    await edit(gw, { prompt: "x", image: PNG_URI, mask: PNG_URI, model: 7 }),
    400,
    { param: "model" },
  );
  assert.deepEqual(gw.fake.generationCalls, []);
});

Deno.test("POST /v1/images/edits flags a mask sent in JSON too", async () => {
  await using gw = await startGateway();
  const res = await edit(gw, { prompt: "x", image: PNG_URI, mask: PNG_URI });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-mask-ignored"), MASK_NOTE);
  assert.deepEqual(upstreamBodies(gw), [{ model: EDIT, prompt: "x", image: PNG_URI }]);
});

Deno.test("POST /v1/images/edits answers 400 for a multipart body that cannot be read", async () => {
  await using gw = await startGateway();
  const res = await gw.app.request(EDITS, {
    method: "POST",
    headers: {
      authorization: `Bearer ${GATEWAY_KEY}`,
      "content-type": "multipart/form-data; boundary=xyz",
    },
    body: "this is not multipart",
  });
  await assertOpenAIError(res, 400, { code: "invalid_multipart", param: null });
});

Deno.test("POST /v1/images/edits requires the gateway key in pool mode", async () => {
  await using gw = await startGateway();
  const parts: [string, File][] = [["image", file(tinyPng)]];
  await assertOpenAIError(await edit(gw, form({ prompt: "x" }, parts), { key: null }), 401, {
    code: "invalid_api_key",
  });
  await assertOpenAIError(await edit(gw, form({ prompt: "x" }, parts), { key: "wrong" }), 401, {
    code: "invalid_api_key",
  });
  assert.deepEqual(gw.fake.generationCalls, []);
});

Deno.test("POST /v1/images/edits sends no image_size to edit models and reports the size dropped", async () => {
  await using gw = await startGateway();
  const res = await edit(gw, form({ prompt: "x", size: "1024x1024" }, [["image", file(tinyPng)]]));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-params-dropped"), "size");
  assert.equal((await res.json()).size, undefined);
  assert.deepEqual(upstreamBodies(gw), [{ model: EDIT, prompt: "x", image: PNG_URI }]);
});

Deno.test("POST /v1/images/edits counts images against the model an alias stands for", async () => {
  await using gw = await startGateway({
    env: { MODEL_ALIASES: `gpt-image-1=${EDIT_2509},dall-e-2=${EDIT}` },
  });
  const three = [tinyPng, tinyJpeg, tinyWebp].map((b) => ["image[]", file(b)] as [string, File]);
  const res = await edit(gw, form({ prompt: "x", model: "gpt-image-1" }, three));
  assert.equal(res.status, 200);
  assert.equal((await res.json()).model, EDIT_2509);
  assert.deepEqual(upstreamBodies(gw), [{
    model: EDIT_2509,
    prompt: "x",
    image: PNG_URI,
    image2: JPEG_URI,
    image3: WEBP_URI,
  }]);
  await assertOpenAIError(await edit(gw, form({ prompt: "x", model: "dall-e-2" }, three)), 400, {
    param: "image",
    code: "too_many_images",
    message: /^Qwen\/Qwen-Image-Edit takes at most 1 input image/,
  });
});

const client = openaiClient;

Deno.test("openai SDK images.edit with three files reaches Qwen-Image-Edit-2509 as image, image2, image3", async () => {
  await using gw = await startGateway({ fake: { image: () => tinyJpeg } });
  const res = await client(gw).images.edit({
    model: EDIT_2509,
    image: [
      await toFile(tinyPng, "a.png", { type: "image/png" }),
      await toFile(tinyJpeg, "b.jpg", { type: "image/jpeg" }),
      await toFile(tinyWebp, "c.webp", { type: "image/webp" }),
    ],
    prompt: "put the three together",
  });
  assert.equal(res.data?.length, 1);
  assert.match(res.data?.[0].url ?? "", /^http:\/\/gateway\.test\/i\/[A-Za-z0-9_-]{16}\.jpg$/);
  assert.deepEqual(
    await bytesOf(await gw.get(linkPath(res.data![0].url!), { key: null })),
    tinyJpeg,
  );
  assert.deepEqual(upstreamBodies(gw), [{
    model: EDIT_2509,
    prompt: "put the three together",
    image: PNG_URI,
    image2: JPEG_URI,
    image3: WEBP_URI,
  }]);
});

Deno.test("openai SDK images.edit with one file and b64_json", async () => {
  await using gw = await startGateway({ fake: { image: () => tinyJpeg } });
  const res = await client(gw).images.edit({
    model: EDIT,
    image: await toFile(tinyPng, "a.png", { type: "image/png" }),
    prompt: "make it night",
    response_format: "b64_json",
  });
  assert.deepEqual(
    Uint8Array.from(atob(res.data?.[0].b64_json ?? ""), (c) => c.charCodeAt(0)),
    tinyJpeg,
  );
  assert.deepEqual(upstreamBodies(gw), [{ model: EDIT, prompt: "make it night", image: PNG_URI }]);
});
