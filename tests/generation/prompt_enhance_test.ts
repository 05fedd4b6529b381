import assert from "node:assert/strict";
import type { PromptEnhanceConfig } from "../../lib/config/config.ts";
import { KeyPool, type KeyRunner } from "../../lib/upstream/key_pool.ts";
import {
  type EnhancedPrompt,
  enhancePrompt,
  SYSTEM_PROMPT,
} from "../../lib/generation/prompt_enhance.ts";

const MODEL = "Qwen/Qwen2.5-7B-Instruct";
const POOL_KEY = "sk-poolkey0000000000000000000001";
const POOL_KEY_2 = "sk-poolkey0000000000000000000002";
/** Not shaped like a SiliconFlow key, so only explicit redaction can hide it. */
const OWN_KEY = "llm-own-key-1234567890";
const ALL_KEYS = [POOL_KEY, POOL_KEY_2, OWN_KEY];
const IDEA = "a fox in the snow";

interface RecordedRequest {
  path: string;
  authorization: string | null;
  body: unknown;
}

interface FakeReply {
  status?: number;
  /** Sent as JSON unless a string, which is sent as it is. */
  body: unknown;
  delayMs?: number;
}

/**
 * A fake OpenAI-compatible LLM: answers each request with the next scripted reply (a plain
 * completion once they run out) and records what it was sent. Its reply to a key it was told to
 * reject is a 401 echoing that key, as careless upstreams do.
 */
class FakeLlm implements AsyncDisposable {
  readonly requests: RecordedRequest[] = [];
  readonly baseUrl: string;
  readonly #replies: FakeReply[];
  readonly #rejectedKeys: string[];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(replies: FakeReply[] = [], { rejectedKeys = [] as string[] } = {}) {
    this.#replies = replies;
    this.#rejectedKeys = rejectedKeys;
    this.#server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen: () => {} },
      (req) => this.#handle(req),
    );
    this.baseUrl = `http://127.0.0.1:${this.#server.addr.port}/v1`;
  }

  async #handle(req: Request): Promise<Response> {
    const authorization = req.headers.get("authorization");
    this.requests.push({ path: new URL(req.url).pathname, authorization, body: await req.json() });
    const key = authorization?.replace(/^Bearer /, "") ?? "";
    const reply: FakeReply = this.#rejectedKeys.includes(key)
      ? { status: 401, body: { error: { message: `Invalid token ${key}` } } }
      : this.#replies.shift() ?? { body: completion("A red fox in deep snow") };
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
    return new Response(text, {
      status: reply.status ?? 200,
      headers: { "content-type": "application/json" },
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // Waits for responses still pending (a delayed reply the client gave up on).
    await this.#server.shutdown();
  }
}

/** A chat completion as SiliconFlow sends it; `message` adds fields such as `reasoning_content`. */
function completion(
  content: string | null,
  { message = {}, finishReason = "stop" }: {
    message?: Record<string, unknown>;
    finishReason?: string;
  } = {},
) {
  return {
    id: "0198c1e1b2c3",
    object: "chat.completion",
    created: 1754000000,
    model: MODEL,
    choices: [{
      index: 0,
      message: { role: "assistant", content, ...message },
      finish_reason: finishReason,
    }],
    usage: { prompt_tokens: 200, completion_tokens: 40, total_tokens: 240 },
  };
}

interface Outcome {
  result: EnhancedPrompt;
  warnings: string[];
  /** Models `withKey` was asked to run. */
  withKeyModels: string[];
}

/** Runs {@link enhancePrompt} against the fake and checks that no log line holds a key. */
async function enhance(
  fake: FakeLlm,
  prompt = IDEA,
  options: {
    config?: Partial<PromptEnhanceConfig>;
    withKey?: KeyRunner;
    signal?: AbortSignal;
  } = {},
): Promise<Outcome> {
  const warnings: string[] = [];
  const other: string[] = [];
  const withKeyModels: string[] = [];
  const runner: KeyRunner = options.withKey ?? ((_model, call) => call(POOL_KEY));
  const result = await enhancePrompt(prompt, {
    config: {
      model: MODEL,
      baseUrl: fake.baseUrl,
      apiKeys: [],
      timeoutMs: 5000,
      ...options.config,
    },
    fetch,
    withKey: (model, call) => {
      withKeyModels.push(model);
      return runner(model, call);
    },
    log: {
      info: (line) => other.push(line),
      warn: (line) => warnings.push(line),
      error: (line, err) => other.push(`${line} ${err}`),
    },
    signal: options.signal,
  });
  assert.deepEqual(other, []);
  for (const line of warnings) {
    for (const key of ALL_KEYS) assert.ok(!line.includes(key), `a key was logged: ${line}`);
  }
  return { result, warnings, withKeyModels };
}

const FALLBACK: EnhancedPrompt = { prompt: IDEA, enhanced: false };
const warning = (reason: string) =>
  `prompt enhancement with ${MODEL} failed, using the original prompt: ${reason}`;

Deno.test("enhancePrompt sends the model, system prompt and idea in one non-streaming request", async () => {
  await using fake = new FakeLlm();
  const { result, warnings, withKeyModels } = await enhance(fake, "一只雪地里的狐狸");
  assert.deepEqual(result, { prompt: "A red fox in deep snow", enhanced: true });
  assert.deepEqual(warnings, []);
  assert.deepEqual(withKeyModels, [MODEL]);
  assert.deepEqual(fake.requests, [{
    path: "/v1/chat/completions",
    authorization: `Bearer ${POOL_KEY}`,
    body: {
      model: MODEL,
      messages: [
        { role: "system", content: SYSTEM_PROMPT },
        { role: "user", content: "一只雪地里的狐狸" },
      ],
      temperature: 0.7,
      max_tokens: 400,
      stream: false,
    },
  }]);
});

Deno.test("enhancePrompt sends PROMPT_ENHANCE_API_KEY when set and never asks for a SiliconFlow key", async () => {
  await using fake = new FakeLlm();
  const { result, withKeyModels } = await enhance(fake, IDEA, { config: { apiKeys: [OWN_KEY] } });
  assert.deepEqual(result, { prompt: "A red fox in deep snow", enhanced: true });
  assert.deepEqual(withKeyModels, []);
  assert.deepEqual(fake.requests.map((r) => r.authorization), [`Bearer ${OWN_KEY}`]);
});

Deno.test("enhancePrompt fails over to the pool's next key when the LLM rejects one", async () => {
  await using fake = new FakeLlm([], { rejectedKeys: [POOL_KEY] });
  const pool = new KeyPool([POOL_KEY, POOL_KEY_2]);
  const { result, warnings } = await enhance(fake, IDEA, {
    withKey: (model, call) => pool.run(model, call),
  });
  assert.deepEqual(result, { prompt: "A red fox in deep snow", enhanced: true });
  assert.deepEqual(warnings, []);
  assert.deepEqual(fake.requests.map((r) => r.authorization), [
    `Bearer ${POOL_KEY}`,
    `Bearer ${POOL_KEY_2}`,
  ]);
});

Deno.test("enhancePrompt strips <think>…</think> before the prompt", async () => {
  await using fake = new FakeLlm([{
    body: completion(
      "<think>\nThe user wants a fox. Add light.\n</think>\n\nA red fox in deep snow at dusk",
    ),
  }]);
  const { result, warnings } = await enhance(fake);
  assert.deepEqual(result, { prompt: "A red fox in deep snow at dusk", enhanced: true });
  assert.deepEqual(warnings, []);
});

Deno.test("enhancePrompt takes the text after a </think> whose opening tag is missing", async () => {
  await using fake = new FakeLlm([{
    body: completion("Plan: a fox.\n</think>\nA red fox at dusk"),
  }]);
  assert.deepEqual((await enhance(fake)).result, { prompt: "A red fox at dusk", enhanced: true });
});

Deno.test("enhancePrompt reads hostile answers in linear time: many <think> tags, and answers past 64,000 characters", async () => {
  // A lazy /<think>[\s\S]*?<\/think>/ took 177 ms on 64 KB of "<think>" (quadratic).
  for (
    const [answer, prompt] of [
      ["<think>".repeat(9000) + "</think>A red fox", "A red fox"],
      ["<THINK>x</think>".repeat(3000) + "A red fox", "A red fox"],
    ]
  ) {
    await using fake = new FakeLlm([{ body: completion(answer) }]);
    const started = performance.now();
    const { result } = await enhance(fake);
    assert.ok(performance.now() - started < 150, `${performance.now() - started} ms`);
    assert.deepEqual(result, { prompt, enhanced: true });
  }
  await using fake = new FakeLlm([{ body: completion("<think>".repeat(10_000)) }]);
  const { result, warnings } = await enhance(fake);
  assert.deepEqual(result, { prompt: IDEA, enhanced: false });
  assert.match(warnings.join("\n"), /the answer was 70000 characters long/);
});

Deno.test("enhancePrompt ignores reasoning_content and uses content", async () => {
  await using fake = new FakeLlm([{
    body: completion("A red fox in deep snow, soft blue hour light", {
      message: { reasoning_content: "Thinking about foxes and snow…" },
    }),
  }]);
  const { result, warnings } = await enhance(fake);
  assert.deepEqual(result, {
    prompt: "A red fox in deep snow, soft blue hour light",
    enhanced: true,
  });
  assert.deepEqual(warnings, []);
});

Deno.test("enhancePrompt removes wrapping quotes, code fences and labels but keeps inner quotes", async () => {
  const cases: [string, string][] = [
    ['"A red fox in snow"', "A red fox in snow"],
    ["“一只雪地里的红狐狸，黄昏的金色光线”", "一只雪地里的红狐狸，黄昏的金色光线"],
    ["```\nA red fox in snow\n```", "A red fox in snow"],
    ["```text\nPrompt: A red fox in snow\n```", "A red fox in snow"],
    ["Prompt: A red fox in snow", "A red fox in snow"],
    ["**Enhanced prompt:** A red fox in snow", "A red fox in snow"],
    ['Here\'s the rewritten prompt:\n\n"A red fox in snow"', "A red fox in snow"],
    ["提示词：一只红狐狸", "一只红狐狸"],
    ["优化后的提示词: 「一只红狐狸，招牌上写着「开业」」", "一只红狐狸，招牌上写着「开业」"],
    ['A neon sign reading "OPEN" above a door', 'A neon sign reading "OPEN" above a door'],
    ['"OPEN" on one sign, "CLOSED" on the other"', '"OPEN" on one sign, "CLOSED" on the other"'],
    ["A red fox,\n\nin deep snow.  ", "A red fox, in deep snow."],
    ["Sorry-looking puppy in the rain", "Sorry-looking puppy in the rain"],
  ];
  await using fake = new FakeLlm(cases.map(([answer]) => ({ body: completion(answer) })));
  for (const [answer, expected] of cases) {
    const { result, warnings } = await enhance(fake);
    assert.deepEqual(result, { prompt: expected, enhanced: true }, answer);
    assert.deepEqual(warnings, []);
  }
});

const FAILURES: { name: string; reply: FakeReply; reason: string }[] = [
  {
    name: "HTTP 500",
    reply: { status: 500, body: { error: { message: "internal error" } } },
    reason: "HTTP 500: internal error",
  },
  { name: "a reply that is not JSON", reply: { body: "<html>" }, reason: "the reply was not JSON" },
  {
    name: "a reply without choices",
    reply: { body: { object: "chat.completion", choices: [] } },
    reason: "the reply had no choices[0].message",
  },
  { name: "empty content", reply: { body: completion("  ") }, reason: "empty answer" },
  {
    name: "null content with only reasoning",
    reply: { body: completion(null, { message: { reasoning_content: "Hmm, a fox…" } }) },
    reason: "the answer had reasoning but no content",
  },
  {
    name: "an unterminated <think>",
    reply: { body: completion("<think>The user wants a fox, so") },
    reason: "the answer stopped inside <think>",
  },
  {
    name: "an answer cut off at max_tokens",
    reply: { body: completion("A red fox in", { finishReason: "length" }) },
    reason: "the answer was cut off",
  },
  {
    name: "only quotes and a label",
    reply: { body: completion('Prompt: ""') },
    reason: "empty answer",
  },
  {
    name: "a refusal",
    reply: { body: completion("I'm sorry, but I can't help with that.") },
    reason: "the model refused or chatted",
  },
  {
    name: "a refusal in Chinese",
    reply: { body: completion("抱歉，我无法生成这个内容。") },
    reason: "the model refused or chatted",
  },
  {
    name: "an absurdly long answer",
    reply: { body: completion("fox ".repeat(600)) },
    reason: "the answer was 2399 characters long",
  },
];

for (const { name, reply, reason } of FAILURES) {
  Deno.test(`enhancePrompt falls back to the original prompt with one warning on ${name}`, async () => {
    await using fake = new FakeLlm([reply]);
    const { result, warnings } = await enhance(fake);
    assert.deepEqual(result, FALLBACK);
    assert.deepEqual(warnings, [warning(reason)]);
  });
}

Deno.test("enhancePrompt falls back when the LLM answers after the timeout", async () => {
  await using fake = new FakeLlm([{ body: completion("too late"), delayMs: 400 }]);
  const started = performance.now();
  const { result, warnings } = await enhance(fake, IDEA, { config: { timeoutMs: 100 } });
  assert.ok(performance.now() - started < 350, "enhancePrompt waited past its timeout");
  assert.deepEqual(result, FALLBACK);
  assert.deepEqual(warnings, [warning("no answer within 0.1 s")]);
});

Deno.test("enhancePrompt stops waiting when the client goes away", async () => {
  await using fake = new FakeLlm([{ body: completion("too late"), delayMs: 400 }]);
  const { result, warnings } = await enhance(fake, IDEA, { signal: AbortSignal.timeout(50) });
  assert.deepEqual(result, FALLBACK);
  assert.deepEqual(warnings, [warning("the client went away")]);
});

Deno.test("enhancePrompt never logs a key the LLM echoes back", async () => {
  await using fake = new FakeLlm([], { rejectedKeys: [OWN_KEY, POOL_KEY] });
  const own = await enhance(fake, IDEA, { config: { apiKeys: [OWN_KEY] } });
  assert.deepEqual(own.result, FALLBACK);
  assert.deepEqual(own.warnings, [warning("HTTP 401: Invalid token sk-***")]);
  const pooled = await enhance(fake);
  assert.deepEqual(pooled.result, FALLBACK);
  assert.deepEqual(pooled.warnings, [warning("HTTP 401: Invalid token sk-***")]);
});

Deno.test("enhancePrompt falls back when the LLM cannot be reached", async () => {
  const fake = new FakeLlm();
  await fake[Symbol.asyncDispose]();
  const { result, warnings } = await enhance(fake);
  assert.deepEqual(result, FALLBACK);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /^prompt enhancement with .+ failed, using the original prompt: request failed: /,
  );
});

Deno.test("enhancePrompt leaves an empty prompt alone without calling the LLM", async () => {
  await using fake = new FakeLlm();
  const { result, warnings } = await enhance(fake, "  ");
  assert.deepEqual(result, { prompt: "  ", enhanced: false });
  assert.deepEqual(warnings, []);
  assert.deepEqual(fake.requests, []);
});

Deno.test("PROMPT_ENHANCE_API_KEY as a list fails over to its next key, never to a SiliconFlow key", async () => {
  await using fake = new FakeLlm([], { rejectedKeys: [OWN_KEY] });
  const { result, withKeyModels, warnings } = await enhance(fake, IDEA, {
    config: { apiKeys: [OWN_KEY, "sk-llm-second-key-0001"] },
  });
  assert.deepEqual(result, { prompt: "A red fox in deep snow", enhanced: true });
  assert.deepEqual(withKeyModels, []);
  assert.deepEqual(warnings, []);
  assert.deepEqual(fake.requests.map((r) => r.authorization), [
    `Bearer ${OWN_KEY}`,
    "Bearer sk-llm-second-key-0001",
  ]);
});
