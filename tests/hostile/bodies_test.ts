/**
 * Request bodies that must not cost the machine (issue 15): stalled, half-sent and oversized
 * uploads answered and their sockets freed, complete small bodies keeping keep-alive, forms of
 * 100,000 parts refused at once with flat memory, the byte budget's 503, and chat images checked
 * like edit uploads. Over real loopback sockets where the connection matters; every read has a
 * deadline and every loop a bound.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { dataPayload, MAX_INPUT_IMAGE_BYTES } from "../../lib/openai/edit_images.ts";
import { FakeSiliconFlow } from "../_support/fake_siliconflow.ts";
import {
  assertOpenAIError,
  GATEWAY_KEY,
  listen,
  startGateway,
  type TestGateway,
} from "../_support/gateway.ts";
import { startGatewayProcess } from "../_support/gateway_process.ts";
import { base64Of, tinyPng } from "../_support/images.ts";
import { sleep, within } from "../_support/timing.ts";

const encoder = new TextEncoder();

/** One answer read off a raw connection. */
interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw loopback connection whose every read has a deadline; closed with `using`. */
class RawClient implements Disposable {
  #buffered = new Uint8Array(0);
  #reading: Promise<unknown> | undefined;

  private constructor(readonly conn: Deno.Conn) {}

  static async open(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Writes all of `text` (a write may take only part of it). */
  async send(text: string): Promise<void> {
    const bytes = encoder.encode(text);
    for (let sent = 0, i = 0; sent < bytes.length && i < 100_000; i++) {
      sent += await this.conn.write(bytes.subarray(sent));
    }
  }

  /** The next answer (a `Content-Length` body), within `ms`; throws when it does not come. */
  async answer(ms = 3000): Promise<RawAnswer> {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
      const parsed = this.#parse();
      if (parsed) return parsed;
      const more = await this.#read(deadline - Date.now());
      if (more === undefined) break;
      if (more === null) throw new Error("the server closed the connection before answering");
    }
    throw new Error(`no whole answer within ${ms} ms`);
  }

  /** Milliseconds until the server closes the connection, or `undefined` if still open after `ms`. */
  async closedWithin(ms: number): Promise<number | undefined> {
    const started = Date.now();
    for (let i = 0; i < 1000 && Date.now() - started < ms; i++) {
      const more = await this.#read(ms - (Date.now() - started));
      if (more === undefined) return undefined;
      if (more === null) return Date.now() - started;
    }
    return undefined;
  }

  /** More bytes (buffered), `null` once closed (or reset), `undefined` on the deadline. */
  async #read(ms: number): Promise<number | null | undefined> {
    const buf = new Uint8Array(65536);
    const reading = this.#reading ??= this.conn.read(buf).then(
      (n) => n === null ? null : buf.subarray(0, n),
      () => null,
    );
    const got = await within(reading, Math.max(ms, 1), "late" as const);
    if (got === "late") return undefined;
    this.#reading = undefined;
    if (got === null) return null;
    const bytes = got as Uint8Array;
    const joined = new Uint8Array(this.#buffered.length + bytes.length);
    joined.set(this.#buffered);
    joined.set(bytes, this.#buffered.length);
    this.#buffered = joined;
    return bytes.length;
  }

  #parse(): RawAnswer | undefined {
    const text = new TextDecoder().decode(this.#buffered);
    const end = text.indexOf("\r\n\r\n");
    if (end === -1) return undefined;
    const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
    const headers = Object.fromEntries(lines.map((l) => {
      const colon = l.indexOf(":");
      return [l.slice(0, colon).toLowerCase(), l.slice(colon + 1).trim()];
    }));
    const length = Number(headers["content-length"] ?? 0);
    const bodyStart = encoder.encode(text.slice(0, end + 4)).length;
    if (this.#buffered.length < bodyStart + length) return undefined;
    const body = new TextDecoder().decode(this.#buffered.subarray(bodyStart, bodyStart + length));
    this.#buffered = this.#buffered.slice(bodyStart + length);
    return { status: Number(statusLine.split(" ")[1]), headers, body };
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Already closed by a reset.
    }
  }
}

const postHead = (path: string, length: number, key = GATEWAY_KEY, type = "application/json") =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n` +
  `Content-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`;

const portOf = (origin: string) => Number(new URL(origin).port);

/** The error of an answer, after its status. */
function errorOf(answer: RawAnswer, status: number) {
  assert.equal(answer.status, status, answer.body);
  return JSON.parse(answer.body).error;
}

Deno.test("a stalled upload is answered 408 with Connection: close, and freed once the client sends again", async () => {
  await using gw = await startGateway({ env: { REQUEST_BODY_TIMEOUT_SECONDS: "0.2" } });
  await using server = listen(gw);
  using client = await RawClient.open(portOf(server.origin));
  await client.send(postHead("/v1/images/generations", 1000) + '{"prompt": "a fox');
  const answer = await client.answer();
  assert.equal(errorOf(answer, 408).code, "request_timeout");
  assert.equal(answer.headers.connection, "close");
  // Deno cannot cancel a read already waiting on a silent client (the recycling of
  // IDLE_CONNECTION_SECONDS closes those); the next byte that comes ends it.
  await client.send("x");
  const closed = await client.closedWithin(2000);
  assert.ok(closed !== undefined, "the socket was closed");
  assert.deepEqual(gw.log.errors, []);
});

Deno.test("a silent stalled upload is closed by the next listener recycling after its 408", async () => {
  await using fake = new FakeSiliconFlow();
  await using gw = await startGatewayProcess({
    SILICONFLOW_BASE_URL: fake.baseUrl,
    SILICONFLOW_API_KEYS: "sk-upstream-1",
    GATEWAY_API_KEYS: GATEWAY_KEY,
    REQUEST_BODY_TIMEOUT_SECONDS: "0.3",
    IDLE_CONNECTION_SECONDS: "1",
  });
  using client = await RawClient.open(portOf(gw.url));
  await client.send(postHead("/v1/images/generations", 1000) + '{"prompt": "a fox');
  assert.equal(errorOf(await client.answer(), 408).code, "request_timeout");
  const closed = await client.closedWithin(2500);
  assert.ok(closed !== undefined, "the socket was closed");
});

Deno.test("a 401 for a POST whose body stalls frees the socket at once", async () => {
  await using gw = await startGateway();
  await using server = listen(gw);
  using client = await RawClient.open(portOf(server.origin));
  await client.send(postHead("/v1/images/edits", 100_000, "wrong-key") + "--x\r\n");
  const answer = await client.answer();
  assert.equal(errorOf(answer, 401).code, "invalid_api_key");
  assert.equal(answer.headers.connection, "close");
  const closed = await client.closedWithin(2000);
  assert.ok(closed !== undefined && closed < 1000, `closed after ${closed} ms`);
});

Deno.test("a declared Content-Length over the cap is refused 413 at once, unread, and the socket freed", async () => {
  await using gw = await startGateway();
  await using server = listen(gw);
  using client = await RawClient.open(portOf(server.origin));
  const started = Date.now();
  // No byte of the body is ever sent: the answer cannot have waited for it.
  await client.send(postHead("/v1/chat/completions", 40_000_000));
  const error = errorOf(await client.answer(1000), 413);
  assert.ok(Date.now() - started < 1000);
  assert.deepEqual(error, {
    message: "The request body is over 33554432 bytes",
    type: "invalid_request_error",
    param: null,
    code: "payload_too_large",
  });
  assert.ok((await client.closedWithin(2000)) !== undefined, "the socket was closed");
});

Deno.test("complete small POSTs keep their keep-alive connection, answered or refused", async () => {
  await using gw = await startGateway();
  await using server = listen(gw);
  using client = await RawClient.open(portOf(server.origin));
  const json = '{"prompt":"x"}';
  await client.send(postHead("/v1/images/generations", json.length) + json);
  const ok = await client.answer();
  assert.equal(ok.status, 200, ok.body);
  assert.equal(ok.headers.connection, undefined);
  await client.send(postHead("/v1/images/generations", json.length, "wrong-key") + json);
  const refused = await client.answer();
  assert.equal(errorOf(refused, 401).code, "invalid_api_key");
  assert.equal(refused.headers.connection, undefined);
  await client.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  assert.equal((await client.answer()).status, 200);
});

/** The resident memory of a process, in MB (Linux; read by `cat`: Deno asks -A for /proc). */
async function rssMb(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] }).output();
  return Number(/VmRSS:\s+(\d+) kB/.exec(new TextDecoder().decode(stdout))![1]) / 1024;
}

Deno.test({
  name: "100,000 empty image[] parts are refused at once, with flat memory, while /health answers",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using fake = new FakeSiliconFlow();
    await using gw = await startGatewayProcess({
      SILICONFLOW_BASE_URL: fake.baseUrl,
      SILICONFLOW_API_KEYS: "sk-upstream-1",
      GATEWAY_API_KEYS: GATEWAY_KEY,
    });
    const pid = gw.child.pid;
    const part = 'Content-Disposition: form-data; name="image[]"; filename=""\r\n' +
      "Content-Type: application/octet-stream\r\n\r\n\r\n--B\r\n";
    const body = '--B\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nx\r\n--B\r\n' +
      part.repeat(100_000) + "--B--\r\n";
    const before = await rssMb(pid);
    // Sampled until the request is over: at most 100 samples, 20 ms apart.
    let peak = before;
    let over = false;
    const sampling = (async () => {
      for (let i = 0; i < 100 && !over; i++) {
        peak = Math.max(peak, await rssMb(pid));
        await sleep(20);
      }
    })();
    try {
      using client = await RawClient.open(portOf(gw.url));
      const started = performance.now();
      const head = postHead(
        "/v1/images/edits",
        body.length,
        GATEWAY_KEY,
        "multipart/form-data; boundary=B",
      );
      // Sent in the background: the server answers (and stops reading) long before the end.
      const sending = client.send(head + body).catch(() => {});
      const health = fetch(`${gw.url}/health`, { signal: AbortSignal.timeout(2000) });
      const error = errorOf(await client.answer(2000), 400);
      const took = performance.now() - started;
      assert.equal(error.code, "too_many_images");
      assert.equal(error.param, "image");
      assert.ok(took < 1000, `answered after ${Math.round(took)} ms`);
      const healthy = await health;
      assert.equal(healthy.status, 200);
      await healthy.body?.cancel();
      assert.ok((await client.closedWithin(2000)) !== undefined, "the socket was closed");
      client[Symbol.dispose]();
      await sending;
      peak = Math.max(peak, await rssMb(pid));
    } finally {
      over = true;
      await sampling;
    }
    assert.ok(peak - before < 100, `RSS grew from ${before.toFixed(0)} to ${peak.toFixed(0)} MB`);
  },
});

Deno.test("forms of too many parts are refused before any image is read, multipart or URL-encoded", async () => {
  await using gw = await startGateway();
  const post = (body: BodyInit, type?: string) =>
    gw.app.request("/v1/images/edits", {
      method: "POST",
      headers: {
        authorization: `Bearer ${GATEWAY_KEY}`,
        ...(type ? { "content-type": type } : {}),
      },
      body,
    });
  const form = new FormData();
  form.set("prompt", "x");
  for (let i = 0; i < 100; i++) form.append(`field${i}`, "1");
  await assertOpenAIError(await post(form), 400, { param: null, code: "too_many_parts" });
  const images = new FormData();
  images.set("prompt", "x");
  // Not images at all: had they been read, the answer would name the first one.
  for (let i = 0; i < 17; i++) images.append("image[]", new File(["not an image"], `${i}.png`));
  await assertOpenAIError(await post(images), 400, { param: "image", code: "too_many_images" });
  const encoded = Array.from({ length: 100 }, (_, i) => `f${i}=1`).join("&");
  await assertOpenAIError(await post(encoded, "application/x-www-form-urlencoded"), 400, {
    param: null,
    code: "too_many_parts",
  });
  assert.deepEqual(gw.fake.generationCalls, []);
});

Deno.test("past REQUEST_BYTES_BUDGET a second large body gets 503 with Retry-After; the first goes on", async () => {
  await using gw = await startGateway({ env: { REQUEST_BYTES_BUDGET: "1MB" } });
  await using server = listen(gw);
  const budget = gw.services.bodyBudget;
  const json = JSON.stringify({ prompt: "x", user: "u".repeat(700_000) });
  using first = await RawClient.open(portOf(server.origin));
  await first.send(postHead("/v1/images/generations", json.length) + json.slice(0, 600_000));
  for (let i = 0; i < 200 && budget.held < 600_000; i++) await sleep(10);
  assert.equal(budget.held, 600_000, "the first body's bytes are reserved as they arrive");

  // Declaring a large body reserves nothing until its bytes come: a silent one costs no budget.
  using silent = await RawClient.open(portOf(server.origin));
  await silent.send(postHead("/v1/images/generations", 30_000_000));
  await sleep(50);
  assert.equal(budget.held, 600_000);

  // Refused as its bytes pass the budget. (Deno then waits for the rest of that body: its socket
  // is freed when the client sends it or leaves, or at the next IDLE_CONNECTION_SECONDS renewal.)
  using second = await RawClient.open(portOf(server.origin));
  await second.send(postHead("/v1/images/generations", json.length) + json.slice(0, 500_000));
  const busy = await second.answer();
  assert.equal(busy.headers["retry-after"], "5");
  assert.deepEqual(errorOf(busy, 503), {
    message: "The gateway is holding as many request bytes as it may (REQUEST_BYTES_BUDGET); " +
      "try again in 5 s",
    type: "server_error",
    param: null,
    code: "server_busy",
  });

  await first.send(json.slice(600_000));
  assert.equal((await first.answer()).status, 200);
  for (let i = 0; i < 100 && budget.held > 0; i++) await sleep(10);
  assert.equal(budget.held, 0, "given back when the request is over");
  // A body larger than the whole budget could never be taken: 413, not 503.
  const huge = JSON.stringify({ prompt: "x", user: "u".repeat(2_000_000) });
  await assertOpenAIError(await gw.post("/v1/images/generations", huge), 413, {
    code: "payload_too_large",
    message: "The request body is over 1048576 bytes (REQUEST_BYTES_BUDGET)",
  });
  assert.equal(gw.fake.generationCalls.length, 1);
});

const EDIT_MODEL = "Qwen/Qwen-Image-Edit";

/** A chat asking an edit model to change `url`. */
const chatWith = (gw: TestGateway, url: string, model = EDIT_MODEL) =>
  gw.post("/v1/chat/completions", {
    model,
    messages: [{
      role: "user",
      content: [{ type: "text", text: "make it snow" }, { type: "image_url", image_url: { url } }],
    }],
  });

/** An OpenAI-compatible provider that records what reaches it. */
function fakeProvider() {
  const calls: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    calls.push(new URL(req.url).pathname);
    await req.body?.cancel();
    return Response.json({ created: 1, data: [{ b64_json: base64Of(tinyPng) }] });
  });
  return {
    baseUrl: `http://127.0.0.1:${server.addr.port}/v1`,
    calls,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("a chat image that is not base64 is a clear 400, never a 500, on any provider", async () => {
  await using provider = fakeProvider();
  await using gw = await startGateway({
    env: {
      PROVIDERS_JSON: JSON.stringify([{
        name: "openai",
        kind: "openai",
        base_url: provider.baseUrl,
        keys: "sk-openai-provider-01",
        models: ["gpt-image-1-edit"],
      }]),
    },
  });
  for (const model of [EDIT_MODEL, "gpt-image-1-edit"]) {
    await assertOpenAIError(await chatWith(gw, "data:image/png;base64,!!!!notbase64", model), 400, {
      param: "messages",
      code: "invalid_image",
      message: "Input image 1 cannot be used: send a data:image/…;base64 URI or an http(s) URL",
    });
  }
  await assertOpenAIError(
    await chatWith(gw, `data:image/png;base64,${base64Of(new Uint8Array(64))}`),
    400,
    {
      param: "messages",
      code: "invalid_image",
      message: /^Input image 1 is not a PNG, JPEG, WebP or GIF image/,
    },
  );
  assert.deepEqual(gw.log.errors, []);
  assert.deepEqual(gw.fake.generationCalls, []);
  assert.deepEqual(provider.calls, []);
});

Deno.test("chat images are capped and typed like edit uploads", async () => {
  await using gw = await startGateway();
  // 22 MB of image: its base64 fits the 32 MB body, but not the 10 MB per image.
  const bytes = 22 * 1024 * 1024;
  const big = `data:image/png;base64,${"A".repeat(Math.ceil(bytes / 3) * 4)}`;
  await assertOpenAIError(await chatWith(gw, big), 413, {
    param: "messages",
    code: "payload_too_large",
    message: `Input image 1 is ${bytes + 2} bytes; each input image may be at most 10 MB ` +
      `(${MAX_INPUT_IMAGE_BYTES} bytes)`,
  });
  // A PNG declared as JPEG and wrapped at 76 columns is sent as what it is, unwrapped.
  const wrapped = base64Of(tinyPng).replace(/.{76}/g, "$&\r\n");
  const res = await chatWith(gw, `data:image/jpeg;base64,${wrapped}`);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  assert.equal(gw.fake.generationCalls[0].body.image, `data:image/png;base64,${base64Of(tinyPng)}`);
});

Deno.test("data URI checks stay linear on 30 MB of hostile text", () => {
  const n = 30 * 1024 * 1024;
  const cases = [
    `data:image/png${";".repeat(n)}`, // no comma
    `data:image/png;base64,${"A".repeat(n)}!`, // one bad character at the end
    `data:image/png;base64,${"A".repeat(n)}=A`, // padding in the middle
    `data:image/png;base64,${" A".repeat(n / 2)}`, // whitespace everywhere
  ];
  const started = performance.now();
  assert.deepEqual(cases.map((c) => dataPayload(c)?.length), [
    undefined,
    undefined,
    undefined,
    n / 2,
  ]);
  const took = performance.now() - started;
  // Linear takes well under a second (more on a busy machine); a quadratic scan would take hours.
  assert.ok(took < 5000, `took ${Math.round(took)} ms`);
  assert.equal(
    dataPayload(`data:image/png;base64,${Buffer.from("hi").toString("base64")}`),
    "aGk=",
  );
});
