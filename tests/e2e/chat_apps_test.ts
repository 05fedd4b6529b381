/**
 * Each chat app's requests replayed against the gateway over a real socket, exactly as the app's
 * own source builds them, and its answers read the way that source reads them. The source file of
 * each client is named on its test; `../shared/reference/client-requests.md` has the notes.
 *
 * @module
 */
import assert from "node:assert/strict";
import OpenAI, { toFile } from "openai";
import { GATEWAY_KEY, listen, type ListeningGateway, startGateway } from "../_support/gateway.ts";
import { NEXTCHAT_TOPIC, openWebUi, OWUI_TITLE } from "../_support/client_prompts.ts";
import { base64Of, tinyJpeg, tinyPng } from "../_support/images.ts";

const AUTH = { authorization: `Bearer ${GATEWAY_KEY}` };
const JSON_HEADERS = { ...AUTH, "content-type": "application/json" };
const LINK = /^http:\/\/127\.0\.0\.1:\d+\/i\/[\w-]{16}\.(png|jpg)$/;

function post(
  server: ListeningGateway,
  path: string,
  body: unknown,
  headers: Record<string, string> = JSON_HEADERS,
) {
  return fetch(`${server.origin}${path}`, {
    method: "POST",
    headers,
    body: body instanceof FormData ? body : JSON.stringify(body),
  });
}

/** Base64 or a data URI, as Open WebUI's `get_image_data()` and LobeChat accept, to bytes. */
function decodeImage(value: string): Uint8Array {
  const raw = value.startsWith("data:") ? value.slice(value.indexOf(",") + 1) : value;
  return Uint8Array.from(atob(raw), (c) => c.charCodeAt(0));
}

/**
 * Open WebUI `backend/open_webui/routers/images.py` (engine "openai", `image_generations()` and
 * `image_edits()`): JSON generations with the configured model, its default size 512x512 and
 * `response_format: "b64_json"` unless the configured model matches `^gpt-image`
 * (`IMAGE_URL_RESPONSE_MODELS_REGEX_PATTERN`); every `data[i]` is read, `url` first, downloaded
 * server-side by `get_image_data()` with the same Authorization header and refused unless
 * `image/*`; `b64_json` is taken as PNG. Edits are multipart with string fields, one image string as
 * `image`, a list as `image[]` (even of one), named `<uuid>.png`. Task prompts
 * (`routers/tasks.py`: `### Task:`, `stream: false`) are parsed by `utils/middleware.py` from the
 * first `{` to the last `}`.
 */
Deno.test("Open WebUI: image engine generations and edits, url downloads, and its task prompts", async () => {
  await using gw = await startGateway();
  await using server = listen(gw);
  const generated = await post(server, "/v1/images/generations", {
    model: "Kwai-Kolors/Kolors",
    prompt: "a red fox",
    n: 1,
    size: "512x512",
    response_format: "b64_json",
  });
  assert.equal(generated.status, 200);
  const item = (await generated.json()).data[0];
  assert.deepEqual(Object.keys(item).sort(), ["b64_json", "seed"]);
  assert.deepEqual(decodeImage(item.b64_json), tinyPng);
  assert.equal(gw.fake.generationCalls[0].body.image_size, "1024x1024"); // 512x512 snapped

  // ^gpt-image: no response_format; it reads url if there, else b64_json.
  const gpt = await (await post(server, "/v1/images/generations", {
    model: "gpt-image-1",
    prompt: "a red fox",
    n: 1,
    size: "512x512",
  })).json();
  assert.equal(gpt.data[0].url, undefined);
  assert.deepEqual(decodeImage(gpt.data[0].b64_json), tinyPng);

  // A url answer (a model listed in IMAGE_URL_RESPONSE_MODELS_REGEX_PATTERN) is downloaded with
  // the same Authorization header, and refused unless its content-type is image/*.
  const url = (await (await post(server, "/v1/images/generations", {
    model: "Kwai-Kolors/Kolors",
    prompt: "a red fox",
    response_format: "url",
  })).json()).data[0].url;
  assert.match(url, LINK);
  const download = await fetch(url, { headers: AUTH });
  assert.equal(download.status, 200);
  assert.match(download.headers.get("content-type") ?? "", /^image\//);
  assert.deepEqual(new Uint8Array(await download.arrayBuffer()), tinyPng);

  const uploads: [string, Uint8Array<ArrayBuffer>[]][] = [
    ["image", [tinyPng]],
    ["image[]", [tinyPng]],
    ["image[]", [tinyPng, tinyJpeg]],
  ];
  for (const [field, files] of uploads) {
    const form = new FormData();
    form.set("model", "Qwen/Qwen-Image-Edit-2509");
    form.set("prompt", "make it night");
    form.set("n", "1");
    form.set("response_format", "b64_json");
    for (const bytes of files) {
      form.append(
        field,
        new File([bytes], `${crypto.randomUUID()}.png`, { type: "image/png" }),
      );
    }
    const edited = await post(server, "/v1/images/edits", form, AUTH);
    assert.equal(edited.status, 200);
    assert.deepEqual(decodeImage((await edited.json()).data[0].b64_json), tinyPng);
    const sent = gw.fake.generationCalls.at(-1)!.body;
    assert.equal(sent.image2 !== undefined, files.length === 2);
  }

  // The title task goes to the chat model itself and must not cost an image.
  const calls = gw.fake.generationCalls.length;
  const task = await (await post(server, "/v1/chat/completions", {
    model: "Kwai-Kolors/Kolors",
    stream: false,
    messages: openWebUi(OWUI_TITLE, ["user", "a red fox in the snow"]),
  })).json();
  const content: string = task.choices[0].message.content;
  const parsed = JSON.parse(content.slice(content.indexOf("{"), content.lastIndexOf("}") + 1));
  assert.deepEqual(parsed, { title: "A red fox in the snow" });
  assert.equal(gw.fake.generationCalls.length, calls);
});

/**
 * LobeChat (lobehub/lobehub `packages/model-runtime/src/core/openaiCompatibleFactory/createImage.ts`,
 * `generateByImageMode`): the openai SDK's `images.generate({model, n: 1, ...params})` with the
 * model card's parameter schema spread in under its own names (`width`, `height`, `aspectRatio`),
 * `size: "auto"` deleted, `response_format: "b64_json"` only for ids containing `dall-e`, and
 * `images.edit` with files named `image.<subtype>` (several as `image[]`) plus
 * `input_fidelity: "high"` for the gpt-image-1 family. It reads only `data[0]`: `b64_json` (made a
 * PNG data URI), else `url`, which its server fetches.
 */
Deno.test("LobeChat: its parameter schema's width/height and aspectRatio, edits with input_fidelity", async () => {
  await using gw = await startGateway();
  await using server = listen(gw);
  const client = new OpenAI({ baseURL: `${server.origin}/v1`, apiKey: GATEWAY_KEY, maxRetries: 0 });
  const read = (res: OpenAI.ImagesResponse) =>
    res.data?.[0].b64_json ? `data:image/png;base64,${res.data[0].b64_json}` : res.data?.[0].url;

  const wide = await client.images.generate({
    model: "Qwen/Qwen-Image",
    n: 1,
    prompt: "a harbour at dawn",
    ...{ width: 1664, height: 928 },
  } as OpenAI.ImageGenerateParamsNonStreaming);
  assert.match(read(wide) ?? "", LINK);
  const tall = await client.images.generate({
    model: "Qwen/Qwen-Image",
    n: 1,
    prompt: "a lighthouse",
    ...{ aspectRatio: "9:16" },
  } as OpenAI.ImageGenerateParamsNonStreaming);
  assert.equal(tall.size, "928x1664");
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.body.image_size), ["1664x928", "928x1664"]);

  const dalle = await client.images.generate({
    model: "dall-e-3",
    n: 1,
    prompt: "a fox",
    response_format: "b64_json",
  });
  assert.equal(read(dalle), `data:image/png;base64,${base64Of(tinyPng)}`);

  // A gpt-image-1 edit (our default edit model stands in), answered in base64 as OpenAI does.
  const edited = await client.images.edit({
    model: "gpt-image-1",
    n: 1,
    input_fidelity: "high",
    prompt: "make it snow",
    image: [
      await toFile(tinyJpeg, "image.jpeg", { type: "image/jpeg" }),
      await toFile(tinyPng, "image.png", { type: "image/png" }),
    ],
  });
  assert.equal(read(edited), `data:image/png;base64,${base64Of(tinyPng)}`);
  const sent = gw.fake.generationCalls.at(-1)!.body;
  assert.equal(sent.model, "Qwen/Qwen-Image-Edit-2509");
  assert.match(String(sent.image), /^data:image\/jpeg;base64,/);
  assert.match(String(sent.image2), /^data:image\/png;base64,/);
});

/**
 * Cherry Studio `src/renderer/src/pages/paintings/providers/newapi/provider.ts` (its "NewAPI"
 * painting page): `fetch` on `{host}/v1/images/generations` with `{prompt, model, size, background,
 * n, quality, moderation}` (the `auto` ones left out) and no `response_format`; edits are
 * multipart with the `image` field repeated and no `n`; it uses `data[].url` when any item has
 * one, else `b64_json`. When its AI-SDK path fails, or for a custom OpenAI-type provider at once
 * (`src/renderer/src/aiCore/index_new.ts` → `legacy/clients/openai/OpenAIBaseClient.ts`
 * `generateImage`), it posts the legacy SiliconFlow body `{model, prompt, negative_prompt,
 * image_size, batch_size, seed, num_inference_steps, guidance_scale, prompt_enhancement}` with
 * `X-Title`/`X-Api-Key` headers, reading only `data[].url`.
 */
Deno.test("Cherry Studio: the NewAPI painting page, its repeated image fields, and the legacy body", async () => {
  await using gw = await startGateway();
  await using server = listen(gw);
  const painted = await (await post(server, "/v1/images/generations", {
    prompt: "a koi pond",
    model: "Kwai-Kolors/Kolors",
    size: "1024x1024",
    n: 2,
    quality: "auto",
    moderation: "auto",
    background: "auto",
  })).json();
  assert.equal(painted.data.length, 2);
  for (const item of painted.data) assert.match(item.url, LINK);

  const form = new FormData();
  form.set("prompt", "put them side by side");
  form.set("model", "Qwen/Qwen-Image-Edit-2509");
  form.append("image", new File([tinyPng], "a.png", { type: "image/png" }));
  form.append("image", new File([tinyJpeg], "b.jpg", { type: "image/jpeg" }));
  const edited = await post(server, "/v1/images/edits", form, AUTH);
  assert.equal(edited.status, 200);
  assert.match((await edited.json()).data[0].url, LINK);
  const sent = gw.fake.generationCalls.at(-1)!.body;
  assert.match(String(sent.image), /^data:image\/png;base64,/);
  assert.match(String(sent.image2), /^data:image\/jpeg;base64,/);

  const legacyHeaders = {
    ...JSON_HEADERS,
    "http-referer": "https://cherry-ai.com",
    "x-title": "Cherry Studio",
    "x-api-key": GATEWAY_KEY,
  };
  const legacy = await (await post(server, "/v1/images/generations", {
    model: "Kwai-Kolors/Kolors",
    prompt: "a koi pond",
    negative_prompt: "blurry",
    image_size: "768x1024",
    batch_size: 1,
    seed: 7,
    num_inference_steps: 25,
    guidance_scale: 7.5,
    prompt_enhancement: false,
  }, legacyHeaders)).json();
  assert.match(legacy.data[0].url, LINK);
  assert.deepEqual(gw.fake.generationCalls.at(-1)!.body, {
    model: "Kwai-Kolors/Kolors",
    prompt: "a koi pond",
    image_size: "768x1024",
    batch_size: 1,
    seed: 7,
    guidance_scale: 7.5,
    negative_prompt: "blurry",
    num_inference_steps: 25,
  });
});

/**
 * NextChat `app/client/platforms/openai.ts` (`chat()`): the Images API only for the model id
 * exactly `dall-e-3` (`isDalle3`, `app/utils.ts`), with `{model, prompt, response_format:
 * "b64_json", n: 1, size: "1024x1024", quality: "standard", style: "vivid"}` and the headers of
 * `getHeaders()` (`app/client/api.ts`: `Accept: application/json`); it reads `data[0].url`, else
 * `b64_json`. Chat streams through `fetchEventSource` (`app/utils/chat.ts`), which adds
 * `text/event-stream` to the Accept header, and fails unless the answer is 200 with
 * `content-type: text/event-stream`. Its topic prompt goes to the current model unless that is a
 * gpt, gemini or deepseek model (`app/store/chat.ts`, `getSummarizeModel`), with `stream: false`.
 */
Deno.test("NextChat: dall-e-3 generations, Accept: application/json streams, and its topic prompt", async () => {
  await using gw = await startGateway({ env: { MODEL_ALIASES: "dall-e-3=Kwai-Kolors/Kolors" } });
  await using server = listen(gw);
  const headers = { ...JSON_HEADERS, accept: "application/json" };
  const image = await (await post(server, "/v1/images/generations", {
    model: "dall-e-3",
    prompt: "a paper crane",
    response_format: "b64_json",
    n: 1,
    size: "1024x1024",
    quality: "standard",
    style: "vivid",
  }, headers)).json();
  assert.equal(image.data[0].url, undefined);
  assert.equal(image.data[0].b64_json, base64Of(tinyPng));

  const stream = await post(server, "/v1/chat/completions", {
    model: "Qwen/Qwen-Image",
    stream: true,
    messages: [{ role: "user", content: "a paper crane --ar 16:9" }],
  }, { ...headers, accept: "application/json, text/event-stream" });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get("content-type") ?? "", /^text\/event-stream/);
  const text = await stream.text();
  assert.match(
    text,
    /"content":"!\[a paper crane\]\(http:\/\/127\.0\.0\.1:\d+\/i\/[\w-]{16}\.png\)"/,
  );
  assert.equal(gw.fake.generationCalls.at(-1)!.body.image_size, "1664x928");

  const calls = gw.fake.generationCalls.length;
  const topic = await (await post(server, "/v1/chat/completions", {
    model: "Qwen/Qwen-Image",
    stream: false,
    messages: [
      { role: "user", content: "a paper crane --ar 16:9" },
      { role: "assistant", content: "![a paper crane](https://gw.example/i/AbCdEfGhIjKlMnOp.png)" },
      { role: "user", content: NEXTCHAT_TOPIC },
    ],
  }, headers)).json();
  assert.equal(topic.choices[0].message.content, "A paper crane");
  assert.equal(gw.fake.generationCalls.length, calls);
});

/**
 * SillyTavern `src/endpoints/backends/chat-completions.js` (source "Custom (OpenAI-compatible)"):
 * posts `{messages, model, temperature, max_tokens, stream, presence_penalty, frequency_penalty,
 * top_p, logit_bias, seed (only when ≥ 0), …}` server-side to `` `${custom_url}/chat/completions` ``
 * untrimmed, with its `custom_include_body` YAML merged on top, and pipes the stream to the
 * browser. There `public/scripts/sse-stream.js` skips comments, and `getStreamingReply()` in
 * `public/scripts/openai.js` JSON-parses every data frame and reads `data.choices[0]`, throwing on
 * a chunk without `choices`.
 */
Deno.test("SillyTavern: custom source chat, streamed, every chunk with choices", async () => {
  await using gw = await startGateway({ env: { SSE_KEEPALIVE_SECONDS: "0.05" } });
  await using server = listen(gw);
  for (const stream of [true, false]) {
    // The URL as typed with a trailing slash: `http://gateway/v1/` + `/chat/completions`.
    const res = await post(server, "/v1//chat/completions", {
      messages: [
        { role: "system", content: "Write Kolors's next reply in a fictional chat." },
        { role: "user", content: "a lantern festival at night" },
      ],
      model: "Kwai-Kolors/Kolors",
      temperature: 1,
      max_tokens: 300,
      stream,
      presence_penalty: 0,
      frequency_penalty: 0,
      top_p: 1,
      logit_bias: {},
      seed: 42,
      // custom_include_body: `negative_prompt: blurry`
      negative_prompt: "blurry",
    });
    let content: string;
    if (stream) {
      const chunks = (await res.text()).split("\n\n").filter((f) => f.startsWith("data: {"))
        .map((f) => JSON.parse(f.slice(6)));
      // What its parser does with each chunk: it reads choices[0].delta and would throw without it.
      content = chunks.map((c) => c.choices[0].delta.content ?? "").join("");
    } else content = (await res.json()).choices[0].message.content;
    assert.match(
      content,
      /^!\[a lantern festival at night\]\(http:\/\/127\.0\.0\.1:\d+\/i\/[\w-]{16}\.png\)$/,
    );
    assert.equal(gw.fake.generationCalls.at(-1)!.body.seed, 42);
    assert.equal(gw.fake.generationCalls.at(-1)!.body.negative_prompt, "blurry");
  }
});
