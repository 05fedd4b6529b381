/**
 * The prompt tools through both endpoints: the keyword blocklist, LLM prompt enhancement (shown
 * as `revised_prompt` and in chat answers), and housekeeping prompts answered without an image.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertOpenAIError, startGateway, UPSTREAM_KEY } from "../_support/gateway.ts";
import { readSse } from "../_support/sse.ts";

const ENHANCE = { PROMPT_ENHANCE_MODEL: "Qwen/Qwen2.5-7B-Instruct" };
const REWRITTEN = "a red fox curled up in fresh snow, soft watercolor washes, morning light";

Deno.test("images endpoint refuses banned words before any upstream call", async () => {
  await using gw = await startGateway({ env: { BANNED_KEYWORDS: "gore" } });
  await assertOpenAIError(
    await gw.post("/v1/images/generations", { prompt: "Gore everywhere" }),
    400,
    { param: "prompt", code: "content_policy_violation" },
  );
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("the blocklist sees through full-width letters, invisible characters and dotted spelling", async () => {
  await using gw = await startGateway({
    env: { BANNED_KEYWORDS: "gore, big bad, 血腥, 18+, хуй, lồn" },
  });
  const refused = [
    "ｇｏｒｅ everywhere", // full-width letters (NFKC)
    "GÓRE everywhere", // accents
    "go\u200bre everywhere", // a zero-width space
    "go\u00adre", // a soft hyphen
    "g\u200do\u2060r\ufeffe", // a joiner, a word joiner, a BOM
    "g.o.r.e", // dotted
    "g-o-r-e and g_o_r_e",
    "g o r e", // spelled out
    "go-re",
    "go.re!",
    "a BIG   bad wolf",
    "a big-bad wolf", // the words of a keyword, with any separator or none
    "a bigbad wolf",
    "I am 18+", // symbols as written
    "ХУЙ", // other scripts as whole words
    "lồn", // marks that carry meaning, as written
    "血.腥的场面",
    "血\u200b腥",
    "血 腥",
  ];
  for (const prompt of refused) {
    await assertOpenAIError(await gw.post("/v1/images/generations", { prompt }), 400, {
      param: "prompt",
      code: "content_policy_violation",
      type: "invalid_request_error",
      message:
        "The prompt contains a word this gateway does not allow (BANNED_KEYWORDS); rephrase it",
    }).catch((err) => {
      throw new Error(`${JSON.stringify(prompt)}: ${err.message}`);
    });
  }
  assert.deepEqual(gw.fake.calls, []);
  // Whole words still: these are not the banned ones.
  for (
    const prompt of [
      "a gorey old tale",
      "gorefiend",
      "a big wolf in bad weather",
      "a street in 2018, 1080p", // "18+" is not "18"
      "страх уйдёт", // not across a space between words
      "một con mèo lớn", // Vietnamese marks are not dropped for a keyword that has its own
    ]
  ) {
    assert.equal((await gw.post("/v1/images/generations", { prompt })).status, 200, prompt);
  }
});

Deno.test("images endpoint sends the enhanced prompt upstream and reports it as revised_prompt", async () => {
  await using gw = await startGateway({
    env: ENHANCE,
    fake: {
      chatMessage: () => ({
        role: "assistant",
        content: `<think>fox, snow…</think>\n${REWRITTEN}`,
      }),
    },
  });
  const res = await gw.post("/v1/images/generations", { prompt: "a fox in snow", n: 2 });
  const body = await res.json();
  assert.deepEqual(body.data.map((d: { revised_prompt: string }) => d.revised_prompt), [
    REWRITTEN,
    REWRITTEN,
  ]);
  assert.deepEqual(gw.fake.calls.map((c) => [c.path, c.key]), [
    ["/v1/chat/completions", UPSTREAM_KEY],
    ["/v1/images/generations", UPSTREAM_KEY],
  ]);
  assert.equal(gw.fake.calls[0].body.model, "Qwen/Qwen2.5-7B-Instruct");
  assert.equal(gw.fake.generationCalls[0].body.prompt, REWRITTEN);
});

Deno.test("images endpoint checks limits before paying for enhancement", async () => {
  await using gw = await startGateway({ env: ENHANCE });
  await assertOpenAIError(await gw.post("/v1/images/generations", { prompt: "x", n: 9 }), 400, {
    param: "n",
  });
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("a failed enhancement falls back to the original prompt with one warning", async () => {
  await using gw = await startGateway({ env: ENHANCE });
  gw.fake.failNext({ status: 500, body: "Internal Server Error" });
  const body = await (await gw.post("/v1/images/generations", { prompt: "a fox" })).json();
  assert.equal(body.data[0].revised_prompt, undefined);
  assert.equal(gw.fake.generationCalls[0].body.prompt, "a fox");
  assert.equal(gw.log.warnings.length, 1);
  assert.match(gw.log.warnings[0], /^prompt enhancement with Qwen\/Qwen2\.5-7B-Instruct failed/);
});

Deno.test("an enhanced prompt with a banned word is dropped for the user's own", async () => {
  await using gw = await startGateway({
    env: { ...ENHANCE, BANNED_KEYWORDS: "blood" },
    fake: { chatMessage: () => ({ role: "assistant", content: "a fox with blood on its fur" }) },
  });
  const body = await (await gw.post("/v1/images/generations", { prompt: "a fox" })).json();
  assert.equal(body.data[0].revised_prompt, undefined);
  assert.equal(gw.fake.generationCalls[0].body.prompt, "a fox");
});

Deno.test("chat shows the enhanced prompt under the images and as progress in the stream", async () => {
  await using gw = await startGateway({
    env: ENHANCE,
    fake: {
      chatMessage: () => ({ role: "assistant", reasoning_content: "hmm", content: REWRITTEN }),
    },
  });
  const request = {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: "a fox in snow --ar 9:16" }],
  };
  const plain = await (await gw.post("/v1/chat/completions", request)).json();
  assert.match(
    plain.choices[0].message.content,
    new RegExp(
      `^!\\[a fox in snow\\]\\(http://localhost/i/[\\w-]{16}\\.png\\)\\n\\n> ${REWRITTEN}$`,
    ),
  );
  assert.equal(gw.fake.generationCalls[0].body.prompt, REWRITTEN);
  assert.equal(gw.fake.generationCalls[0].body.image_size, "720x1280");
  // The LLM sees the user's idea without the flags.
  const sent = gw.fake.calls[0].body.messages as { role: string; content: string }[];
  assert.equal(sent.at(-1)?.content, "a fox in snow");

  const { data } = await readSse(
    await gw.post("/v1/chat/completions", { ...request, stream: true }),
  );
  const reasoning = data.slice(0, -1).map((c) =>
    (c as { choices: { delta: { reasoning_content?: string } }[] }).choices[0].delta
      .reasoning_content
  ).filter(Boolean);
  assert.deepEqual(reasoning.slice(0, 3), [
    "Improving the prompt…\n",
    `Prompt: ${REWRITTEN}\n`,
    "Generating 1 image with Kwai-Kolors/Kolors at 720x1280…\n",
  ]);
});

const OPEN_WEBUI_TITLE = `### Task:
Generate a concise, 3-5 word title with an emoji summarizing the chat history.
### Guidelines:
- The title should clearly represent the main theme or subject of the conversation.
- Write the title in the chat's primary language; default to English if multilingual.
### Output:
JSON format: { "title": "your concise title here" }
### Chat History:
<chat_history>
USER: a red fox in snow, watercolor --ar 16:9
ASSISTANT: ![a red fox in snow, watercolor](http://localhost/i/AAAAAAAAAAAAAAAA.png)
</chat_history>`;

Deno.test("chat answers an Open WebUI title task with JSON text and spends no image", async () => {
  await using gw = await startGateway();
  const res = await gw.post("/v1/chat/completions", {
    model: "Kwai-Kolors/Kolors",
    messages: [{ role: "user", content: OPEN_WEBUI_TITLE }],
  });
  const body = await res.json();
  const title = JSON.parse(body.choices[0].message.content).title;
  assert.match(title, /red fox in snow/i);
  assert.equal(body.choices[0].finish_reason, "stop");
  assert.deepEqual(gw.fake.calls, []);
});

Deno.test("chat streams a NextChat title request as text and spends no image", async () => {
  await using gw = await startGateway();
  const res = await gw.post("/v1/chat/completions", {
    model: "Qwen/Qwen-Image",
    stream: true,
    stream_options: { include_usage: true },
    messages: [
      { role: "user", content: "一只在雪地里的红狐狸，水彩 --ar 16:9" },
      { role: "assistant", content: "![fox](http://localhost/i/AAAAAAAAAAAAAAAA.png)" },
      {
        role: "user",
        content:
          "使用四到五个字直接返回这句话的简要主题，不要解释、不要标点、不要语气词、不要多余文本，不要加粗，如果没有主题，请直接返回“闲聊”",
      },
    ],
  });
  assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const { data } = await readSse(res);
  assert.equal(data.length, 5); // role, text, stop, usage, [DONE]
  const text = (data[1] as { choices: { delta: { content: string } }[] }).choices[0].delta.content;
  assert.match(text, /红狐狸/);
  assert.deepEqual(gw.fake.calls, []);
});
