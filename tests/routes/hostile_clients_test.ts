/**
 * Hostile or careless clients: uploads that stall or are aborted (over a real socket), paths that
 * try to forge log lines, secrets echoed in any letter case, and upstream replies of absurd size.
 *
 * @module
 */
import assert from "node:assert/strict";
import { redact } from "../../lib/observability/redaction.ts";
import { MAX_REPLY_BYTES } from "../../lib/upstream/siliconflow.ts";
import {
  assertOpenAIError,
  GATEWAY_KEY,
  startGateway,
  type TestGateway,
} from "../_support/gateway.ts";

/** Serves the app on a loopback port for raw-socket tests. */
function serveOnLoopback(gw: TestGateway) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, gw.app.fetch);
}

/** Sends `head` and `partial` of a body, then reads what the server answers (bounded). */
async function rawRequest(
  port: number,
  head: string,
  partial: string,
  { closeAfterSend }: { closeAfterSend: boolean },
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const encoder = new TextEncoder();
  await conn.write(encoder.encode(head + partial));
  if (closeAfterSend) {
    conn.close();
    return "";
  }
  const buffer = new Uint8Array(4096);
  let text = "";
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && !text.includes("\r\n\r\n{")) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  conn.close();
  return text;
}

const headOf = (path: string, length: number) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${GATEWAY_KEY}\r\n` +
  `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

Deno.test("an upload that stalls is answered 408 after REQUEST_BODY_TIMEOUT_SECONDS", async () => {
  await using gw = await startGateway({ env: { REQUEST_BODY_TIMEOUT_SECONDS: "0.2" } });
  await using server = serveOnLoopback(gw);
  const started = Date.now();
  const answer = await rawRequest(
    server.addr.port,
    headOf("/v1/images/generations", 1000),
    '{"prompt": "a fox',
    { closeAfterSend: false },
  );
  assert.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.ok(Date.now() - started >= 200);
  const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
  assert.deepEqual(body, {
    error: {
      message: "The request body did not arrive within 0.2 s (REQUEST_BODY_TIMEOUT_SECONDS)",
      type: "invalid_request_error",
      param: null,
      code: "request_timeout",
    },
  });
  assert.equal(gw.fake.generationCalls.length, 0);
  assert.deepEqual(gw.log.errors, []);
});

Deno.test("an aborted upload is one quiet log line, never an unhandled error", async () => {
  await using gw = await startGateway();
  await using server = serveOnLoopback(gw);
  await rawRequest(server.addr.port, headOf("/v1/images/edits", 100_000), "--x\r\n", {
    closeAfterSend: true,
  });
  // Bounded wait for the server to notice the closed connection.
  for (let i = 0; i < 100 && gw.log.lines.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(gw.log.lines.length, 1);
  assert.match(gw.log.lines[0], /^POST \/v1\/images\/edits 499 \d+ms$/);
  assert.deepEqual(gw.log.errors, []);
  assert.deepEqual(gw.log.warnings, []);
});

Deno.test("a path with control characters cannot forge a log line, and long paths are cut", async () => {
  await using gw = await startGateway();
  const forged = "/v1/x%0AGET%20/health%20200%200ms%1B[31m";
  await (await gw.get(forged)).body?.cancel();
  await (await gw.get(`/v1/${"a".repeat(5000)}`)).body?.cancel();
  assert.equal(gw.log.lines.length, 2);
  assert.match(gw.log.lines[0], /^GET \/v1\/x\\nGET \/health 200 0ms\\u001b\[31m 404 \d+ms$/);

  assert.ok(!gw.log.lines[0].includes("\n"));
  assert.ok(gw.log.lines[1].length < 260, `${gw.log.lines[1].length} characters`);
  assert.match(gw.log.lines[1], /^GET \/v1\/a{196}… 404 \d+ms$/);
});

Deno.test("secrets are scrubbed from upstream text in any letter case", () => {
  const secret = "sk-PoolKeyAbcdefghijklmnop";
  assert.equal(
    redact(`bad key ${secret.toUpperCase()} and ${secret.toLowerCase()} and ${secret}`, [secret]),
    "bad key sk-*** and sk-*** and sk-***",
  );
  assert.equal(redact("token SK-ABCDEFGHIJKLMNOPQRST here", []), "token sk-*** here");
});

Deno.test("an upstream image link that holds the pool key is never handed to the client", async () => {
  await using gw = await startGateway({
    env: { SILICONFLOW_API_KEYS: "sk-upstream-key-0123456789" },
    fake: {
      keys: ["sk-upstream-key-0123456789"],
      imageTtlMs: 0,
      linkQuery: "&leak=SK-UPSTREAM-KEY-0123456789",
    },
  });
  const res = await gw.post("/v1/images/generations", { prompt: "x" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-image-storage"), "upstream-fallback");
  const text = await res.text();
  assert.doesNotMatch(text, /upstream-key/i);
  assert.match(text, /leak=sk-\*\*\*/);
});

Deno.test("an upstream reply over the size limit is refused, not read into memory", async () => {
  await using gw = await startGateway({ fake: { replyPadding: MAX_REPLY_BYTES + 1 } });
  const res = await gw.post("/v1/images/generations", { prompt: "x" });
  await assertOpenAIError(res, 502, {
    code: "upstream_bad_response",
    message: new RegExp(`over the ${MAX_REPLY_BYTES}-byte limit`),
  });
  assert.equal(res.headers.get("x-should-retry"), "false");
});
