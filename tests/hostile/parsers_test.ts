/**
 * Client text that must not cost the machine (issue 15): every parser that reads what a client
 * sends runs in time linear in it, and stops reading where a bound says enough. The `Range` of
 * `GET /i/:id` (no key needed) and the messages of a chat (any bearer, in pass-through mode) are
 * sent as an attacker would, through the whole gateway; each parser is also timed alone on 1 KB and
 * 1 MB of the same hostile text (`assertLinear`). Bounds are guards against super-linear blow-up,
 * seconds before the fixes, and leave a slow, busy machine ample room.
 *
 * @module
 */
import assert from "node:assert/strict";
import { detectHousekeeping } from "../../lib/chat/housekeeping.ts";
import { type ChatMessage, readConversation } from "../../lib/openai/chat_messages.ts";
import { parseRangeSpec, requestedRange } from "../../lib/routes/range_header.ts";
import { NEXTCHAT_TOPIC } from "../_support/client_prompts.ts";
import {
  assertBytes,
  assertOpenAIError,
  bytesOf,
  generateImage,
  listen,
  startGateway,
  UPSTREAM_KEY,
} from "../_support/gateway.ts";
import { assertLinear } from "../_support/linear_time.ts";
import { randomPng } from "../_support/images.ts";

/** `unit` repeated up to `size` UTF-16 units. */
const repeat = (unit: string, size: number) =>
  unit.repeat(Math.ceil(size / unit.length)).slice(0, size);

/** Runs `fn` and returns its result and how long it took, in milliseconds. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await fn();
  return [result, performance.now() - started];
}

// --- Range ---------------------------------------------------------------------------------

Deno.test("GET /i/:id serves the whole image at once for a Range of 64,000 spaces, over a socket", async () => {
  // Before: 2.6 s of CPU each; nine of them, three at a time, froze the gateway for ~26 s.
  const image = randomPng(64, 64);
  await using gw = await startGateway({ fake: { image: () => image } });
  const { path } = await generateImage(gw);
  await using server = listen(gw);
  const range = `bytes=${" ".repeat(64_000)}x`;
  const [, took] = await timed(async () => {
    for (let batch = 0; batch < 3; batch++) {
      await Promise.all([0, 1, 2].map(async () => {
        const res = await fetch(`${server.origin}${path}`, { headers: { range } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-range"), null);
        assert.equal(res.headers.get("content-length"), String(image.length));
        assertBytes(await bytesOf(res), image);
      }));
      const health = await fetch(`${server.origin}/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
    }
  });
  assert.ok(took < 2000, `nine requests took ${Math.round(took)} ms`);
});

Deno.test("GET /i/:id ignores a Range over 200 characters, however long, and serves the whole image", async () => {
  const image = randomPng(64, 64);
  await using gw = await startGateway({ fake: { image: () => image } });
  const { path } = await generateImage(gw);
  // Deno's server refuses headers this long with a 400 before the app sees them; behind another
  // server, or in process as here, they reach the parser.
  const ranges: [string, string][] = [
    ["100,000 digits", `bytes=${"1".repeat(100_000)}-`],
    ["1 MB of spaces", `bytes=${" ".repeat(1 << 20)}x`],
    ["1 MB of digits", `bytes=0-${"9".repeat(1 << 20)}`],
    ["a valid range of 201 characters", `bytes=${" ".repeat(192)}0-9`],
  ];
  for (const [label, range] of ranges) {
    const [res, took] = await timed(() => gw.get(path, { key: null, headers: { range } }));
    assert.equal(res.status, 200, label);
    assert.equal(res.headers.get("content-range"), null, label);
    assertBytes(await bytesOf(res), image, label);
    assert.ok(took < 500, `${label}: ${Math.round(took)} ms`);
  }
  // At 200 characters it is still read.
  const res = await gw.get(path, { key: null, headers: { range: `bytes=${" ".repeat(191)}0-9` } });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get("content-range"), `bytes 0-9/${image.length}`);
  assertBytes(await bytesOf(res), image.subarray(0, 10));
});

Deno.test("Range and If-Range are parsed in linear time, and not at all past the length cap", () => {
  const etag = `"${"a".repeat(64)}"`;
  const hostile: [string, (size: number) => string][] = [
    ["spaces, then junk", (size) => `bytes=${repeat(" ", size)}x`],
    [
      "spaces between every token",
      (size) => `bytes${repeat(" ", size / 2)}=0-${repeat(" ", size / 2)}`,
    ],
    ["digits", (size) => `bytes=${repeat("1", size)}`],
    ["tabs and spaces, then a range", (size) => `bytes=${repeat("\t ", size)}0-1`],
    ["a list of ranges", (size) => `bytes=${repeat("0-1,", size)}`],
  ];
  for (const [label, make] of hostile) {
    // The parser alone reads every character; the route's function reads none of a long header.
    assertLinear(`parseRangeSpec: ${label}`, parseRangeSpec, make);
    assertLinear(`requestedRange: ${label}`, (h) => requestedRange(h, undefined, etag, 100), make);
    assertLinear(`If-Range: ${label}`, (h) => requestedRange("bytes=0-1", h, etag, 100), make);
  }
  // A long header that is well-formed is still read right by the parser.
  const spaced = `bytes=${" ".repeat(1 << 20)}5-${" ".repeat(1 << 20)}9`;
  assert.deepEqual(parseRangeSpec(spaced), { first: "5", last: "9" });
  assert.equal(requestedRange(spaced, undefined, etag, 100), undefined);
});

// --- Chat messages -------------------------------------------------------------------------

/** `![a](http://` repeated: each `![` once started a URL run to the end of the text. */
const UNCLOSED_IMAGES = "![a](http://".repeat(8000);

/** A gateway in pass-through mode: whatever bearer a client sends reaches the parsers. */
const passThrough = () =>
  startGateway({ env: { SILICONFLOW_API_KEYS: undefined, GATEWAY_API_KEYS: undefined } });

Deno.test("chat refuses 96 KB of unclosed Markdown images at once, from any bearer", async () => {
  // Before: 3.3 s of CPU before the length check refused it (192 KB: 14.9 s).
  await using gw = await passThrough();
  const [res, took] = await timed(() =>
    gw.post("/v1/chat/completions", {
      model: "Kwai-Kolors/Kolors",
      messages: [{ role: "user", content: UNCLOSED_IMAGES }],
    }, { key: "sk-anything" })
  );
  await assertOpenAIError(res, 400, { param: "messages", code: "prompt_too_long" });
  assert.ok(took < 1000, `took ${Math.round(took)} ms`);
  assert.equal(gw.fake.generationCalls.length, 0);
});

Deno.test("chat reads 96 KB of unclosed Markdown images in an earlier answer at once", async () => {
  // Before: 3.9 s for 144 KB, then a 200.
  await using gw = await passThrough();
  const [res, took] = await timed(() =>
    gw.post("/v1/chat/completions", {
      model: "Kwai-Kolors/Kolors",
      messages: [
        { role: "user", content: "a fox" },
        { role: "assistant", content: UNCLOSED_IMAGES },
        { role: "user", content: "a cat" },
      ],
    }, { key: UPSTREAM_KEY })
  );
  assert.equal(res.status, 200, await res.clone().text());
  await res.body?.cancel();
  assert.ok(took < 1500, `took ${Math.round(took)} ms`);
  assert.deepEqual(gw.fake.generationCalls.map((c) => c.body.prompt), ["a cat"]);
});

Deno.test("readConversation reads hostile Markdown in linear time, whatever the message's role", () => {
  const shapes: [string, string][] = [
    ["unclosed images", "![a](http://"],
    ["unclosed image with a title", '![a](<http://x> "'],
    ["images left open after white space", "![a](http://x    "],
    ["bare openers", "!["],
    ["long alt text", `![${"a".repeat(499)}`],
    ["closed images", "![a](http://x) "],
    ["line breaks after the parenthesis", "![a]( \n\t"],
  ];
  for (const [label, unit] of shapes) {
    const latest = (text: string): ChatMessage[] => [{ role: "user", content: text }];
    const earlier = (text: string): ChatMessage[] => [
      { role: "assistant", content: text },
      { role: "user", content: [{ type: "text", text: "a cat" }] },
    ];
    for (const [where, messages] of [["latest", latest], ["earlier", earlier]] as const) {
      assertLinear(
        `${label} (${where})`,
        (text) => readConversation(messages(text)),
        (size) => repeat(unit, size),
      );
    }
  }
  // And reads them right: nothing there is an image but the closed ones.
  const closed = readConversation([{ role: "user", content: "![a](http://x) ".repeat(3) }]);
  assert.deepEqual(closed, {
    text: "",
    images: Array(3).fill("http://x"),
    previousImage: undefined,
  });
  const open = readConversation([{ role: "user", content: UNCLOSED_IMAGES }]);
  assert.deepEqual(open, { text: UNCLOSED_IMAGES, images: [], previousImage: undefined });
});

Deno.test("a title request reads only the latest requests, however long the history", () => {
  // Before: 8 MB of request took 1.6 s to clean for a title, and 30 MB in one body 10 s.
  const huge = "a 1:1 photo ".repeat(1_400_000); // 16.8 MB
  const started = performance.now();
  const long = detectHousekeeping([
    { role: "user", content: huge },
    { role: "user", content: NEXTCHAT_TOPIC },
  ]);
  const many = detectHousekeeping([
    ...Array.from({ length: 200_000 }, (_, i) => ({ role: "user", content: `a cat ${i}` })),
    { role: "user", content: "a red fox in snow" },
    { role: "user", content: NEXTCHAT_TOPIC },
  ]);
  const took = performance.now() - started;
  assert.deepEqual(long, {
    kind: "title",
    text: "A photo a photo a photo a photo a photo a photo",
  });
  assert.deepEqual(many, { kind: "title", text: "A red fox in snow" });
  assert.ok(took < 500, `took ${Math.round(took)} ms`);
});
