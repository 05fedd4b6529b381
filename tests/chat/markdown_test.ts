/**
 * Markdown safety of chat answers: text from the prompt, from an LLM's rewrite of it and from
 * upstream messages is shown as literal text, never as a live link, an image or HTML; and links
 * the upstream sends that are not http(s) never reach a client, on either endpoint.
 *
 * @module
 */
import assert from "node:assert/strict";
import { escapeMarkdown } from "../../lib/markdown_escape.ts";
import { startGateway } from "../_support/gateway.ts";
import { base64Of, tinyPng } from "../_support/images.ts";
import { readSse } from "../_support/sse.ts";

const CHAT = "/v1/chat/completions";
const LINK = /\(http:\/\/localhost\/i\/[\w-]{16}\.png\)/;

Deno.test("escapeMarkdown() leaves no link, image, emphasis, code, HTML or block opener", () => {
  const cases: [string, string][] = [
    ["[x](javascript:alert(1))", "\\[x\\](javascript:alert(1))"],
    ["![x](https://evil.example/t.png)", "!\\[x\\](https://evil.example/t.png)"],
    ["<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert(1)\\>"],
    ["<https://evil.example>", "\\<https://evil.example\\>"],
    ["a_b *c* `d` ~e~ |f| &amp;", "a\\_b \\*c\\* \\`d\\` \\~e\\~ \\|f\\| \\&amp;"],
    ["# heading", "\\# heading"],
    ["> quote", "\\> quote"],
    ["1. item", "1\\. item"],
    ["- a\n- b", "\\- a - b"],
    ["back\\slash", "back\\\\slash"],
    ["Kwai-Kolors/Kolors at 1024x1024…", "Kwai-Kolors/Kolors at 1024x1024…"],
    ["一只猫，9:16", "一只猫，9:16"],
  ];
  for (const [text, escaped] of cases) assert.equal(escapeMarkdown(text), escaped, text);
});

Deno.test("chat alt text from the prompt cannot become a link or HTML", async () => {
  await using gw = await startGateway();
  const res = await gw.post(CHAT, {
    model: "Kwai-Kolors/Kolors",
    messages: [{
      role: "user",
      content: "a cat <img src=x onerror=alert(1)> [x](javascript:alert(1))",
    }],
  });
  const content: string = (await res.json()).choices[0].message.content;
  assert.match(content, LINK);
  assert.equal(
    content.replace(LINK, "(LINK)"),
    "![a cat \\<img src=x onerror=alert(1)\\> x (javascript:alert(1))](LINK)",
  );
});

Deno.test("chat shows an LLM's rewritten prompt and upstream failures as literal text", async () => {
  let generations = 0;
  await using gw = await startGateway({
    env: { PROMPT_ENHANCE_MODEL: "Qwen/Qwen2.5-7B-Instruct", UPSTREAM_RETRIES: "0" },
    fake: {
      // The first of the two generation calls fails, with markup in SiliconFlow's message.
      chaos: (what) =>
        what === "generation" && generations++ === 0
          ? { status: 400, body: { code: 20015, message: "bad <script>x</script>" } }
          : undefined,
      chatMessage: () => ({
        role: "assistant",
        content: "a fox [click](javascript:alert(1)) <b onmouseover=x>bold</b>",
      }),
    },
  });
  const res = await gw.post(CHAT, {
    model: "Qwen/Qwen-Image",
    n: 2,
    stream: true,
    messages: [{ role: "user", content: "a fox" }],
  });
  const { data } = await readSse(res);
  const chunks = data.filter((d): d is { choices: { delta: Record<string, string> }[] } =>
    typeof d === "object" && d !== null && "choices" in d &&
    (d as never)["choices"][0] !== undefined
  );
  const reasoning = chunks.map((c) => c.choices[0].delta.reasoning_content ?? "").join("");
  const content = chunks.map((c) => c.choices[0].delta.content ?? "").join("");
  assert.match(
    reasoning,
    /Prompt: a fox \\\[click\\\]\(javascript:alert\(1\)\) \\<b onmouseover=x\\>bold\\<\/b\\>\n/,
  );
  assert.match(
    content,
    /\n\n> a fox \\\[click\\\]\(javascript:alert\(1\)\) \\<b onmouseover=x\\>bold\\<\/b\\>\n\n/,
  );
  assert.match(content, /SiliconFlow failed: .*bad \\<script\\>x\\<\/script\\>/);
  // Every `<` and `[` outside our own image Markdown is escaped.
  assert.doesNotMatch(content.replace(/!\[a fox\]\(http:[^)]*\)/, ""), /(?<!\\)[<[]/);
});

Deno.test("links the upstream sends that are not http(s) are dropped on both endpoints", async () => {
  await using gw = await startGateway({ env: { UPSTREAM_RETRIES: "0" } });
  const script = () =>
    gw.fake.failNext({
      status: 200,
      body: { images: [{ url: "javascript:alert(1)" }, { url: "file:///etc/passwd" }] },
    });
  script();
  const images = await gw.post("/v1/images/generations", { prompt: "x" });
  assert.equal(images.status, 502);
  const error = (await images.json()).error;
  assert.equal(error.code, "upstream_bad_response");
  assert.doesNotMatch(JSON.stringify(error), /javascript|passwd/);
  script();
  const chat = await gw.post(CHAT, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "x" }],
  });
  assert.doesNotMatch(await chat.text(), /javascript:|file:/);
  assert.equal(gw.fake.imageRequests.length, 0);

  // Beside a usable image, a bad link is left out, and the log says so.
  gw.fake.failNext({
    status: 200,
    body: {
      images: [{ url: "javascript:alert(1)" }, {
        url: `data:image/png;base64,${base64Of(tinyPng)}`,
      }],
    },
  });
  const partial = await gw.post("/v1/images/generations", { prompt: "x", n: 2 });
  assert.equal(partial.status, 200);
  const body = await partial.json();
  assert.equal(body.data.length, 1);
  assert.match(body.data[0].url, /^http:\/\/localhost\/i\/[\w-]{16}\.png$/);
  assert.deepEqual(gw.log.warnings, [
    "1 image(s) left out: the upstream link was not a valid http(s) URL",
  ]);
});

Deno.test("an upstream link cannot close the Markdown image and add HTML or a link of its own", async () => {
  await using gw = await startGateway({ env: { UPSTREAM_RETRIES: "0" } });
  // The download fails (nothing listens on port 1), so the answer shows the upstream link.
  const hostile = "https://127.0.0.1:1/a.png)<img src=x onerror=alert(1)>[c](javascript:alert(2))";
  gw.fake.failNext({ status: 200, body: { images: [{ url: hostile }] } });
  const res = await gw.post(CHAT, {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "x" }],
  });
  const content: string = (await res.json()).choices[0].message.content;
  const [image] = content.split("\n\n");
  assert.equal(
    image,
    "![x](https://127.0.0.1:1/a.png%29%3Cimg%20src=x%20onerror=alert%281%29%3E[c]%28javascript:alert%282%29%29)",
  );
});

Deno.test("a housekeeping summary quotes earlier prompts as literal text", async () => {
  await using gw = await startGateway();
  const res = await gw.post(CHAT, {
    model: "Kwai-Kolors/Kolors",
    messages: [
      { role: "user", content: "a fox <img src=x onerror=alert(1)> [click](javascript:alert(1))" },
      { role: "assistant", content: "![a fox](https://gw.example/i/AbCdEfGhIjKlMnOp.png)" },
      {
        role: "system",
        content:
          "Summarize the discussion briefly in 200 words or less to use as a prompt for future context.",
      },
    ],
  });
  assert.equal(
    (await res.json()).choices[0].message.content,
    'Image prompts so far: "a fox \\<img src=x onerror=alert(1)\\> \\[click\\](javascript:alert(1))"',
  );
  assert.equal(gw.fake.generationCalls.length, 0);
});
