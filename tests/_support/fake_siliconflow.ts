/**
 * A fake SiliconFlow served by `Deno.serve` on port 0, behaving like the real API where the gateway
 * depends on it:
 *
 * - `POST /v1/images/generations` answers `{images:[{url}], timings, seed}`; Kolors returns
 *   `batch_size` images, other models one.
 * - Image links are signed-looking OSS URLs that expire (`imageTtlMs`); after expiry they answer 403
 *   with OSS's XML error, like the real links after one hour. They are served as
 *   `application/octet-stream` so the gateway has to sniff the type.
 * - Errors use SiliconFlow's documented bodies: `"Invalid token"` (bare JSON string) for 401,
 *   `{"code":20012,…}` for unknown models, and whatever a test scripts with {@link FakeSiliconFlow.failNext}.
 * - `GET /v1/models?sub_type=…` lists models.
 *
 * @module
 */
import { tinyPng } from "./images.ts";

export const MODELS: Record<string, string[]> = {
  "text-to-image": ["Kwai-Kolors/Kolors", "Qwen/Qwen-Image"],
  "image-to-image": ["Kwai-Kolors/Kolors", "Qwen/Qwen-Image-Edit", "Qwen/Qwen-Image-Edit-2509"],
};

export interface ScriptedReply {
  status: number;
  /** Sent as JSON when not a string; a string is sent as it is (use `'"Invalid token"'` for JSON). */
  body: unknown;
  headers?: Record<string, string>;
  /** Send the status line and half the body, then drop the connection. */
  cutOff?: boolean;
}

export interface RecordedCall {
  path: string;
  key: string | undefined;
  body: Record<string, unknown>;
}

export interface FakeOptions {
  /** Keys the fake accepts; any other bearer gets 401 "Invalid token". */
  keys?: string[];
  /** How long image links stay valid. */
  imageTtlMs?: number;
  /** Delay before answering a generation. */
  delayMs?: number;
  /** The bytes served for the n-th image (0-based, over the fake's lifetime). */
  image?: (index: number) => Uint8Array;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Delay before an image download is answered. */
  imageDelayMs?: number;
  /** The `choices[0].message` of `POST /v1/chat/completions` (used for prompt enhancement). */
  chatMessage?: (body: Record<string, unknown>) => Record<string, unknown>;
  /** Appended to every image link's query string (to test what links may carry). */
  linkQuery?: string;
  /** Bytes of padding added to every generation reply (to test the reply size limit). */
  replyPadding?: number;
  /**
   * Asked before every generation call and image download: a reply to answer instead (random
   * faults for the load script), or nothing to answer as usual.
   */
  chaos?: (what: "generation" | "image") => ScriptedReply | undefined;
}

export class FakeSiliconFlow implements AsyncDisposable {
  readonly calls: RecordedCall[] = [];
  readonly imageRequests: string[] = [];
  /** Images made (and so billed), by the prompt of the call that made them. */
  readonly madeByPrompt = new Map<string, number>();
  /** The prompt each image (by its index for `image`) was made for. */
  readonly promptOfImage: string[] = [];
  /** Most generation calls that were in progress at the same moment. */
  maxInFlight = 0;
  #inFlight = 0;
  readonly baseUrl: string;
  options: Required<FakeOptions>;
  /** Replies to use, in order, instead of succeeding; keyed by API key or `*` for any key. */
  #scripted = new Map<string, ScriptedReply[]>();
  #images = new Map<string, { bytes: Uint8Array; expiresAt: number }>();
  #imageCount = 0;
  #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(options: FakeOptions = {}) {
    this.options = {
      keys: ["sk-upstream-1"],
      imageTtlMs: 60_000,
      delayMs: 0,
      image: () => tinyPng,
      port: 0,
      imageDelayMs: 0,
      chatMessage: () => ({ role: "assistant", content: "a vivid, detailed picture" }),
      linkQuery: "",
      replyPadding: 0,
      chaos: () => undefined,
      ...options,
    };
    this.#server = Deno.serve(
      { port: this.options.port, hostname: "127.0.0.1", onListen: () => {} },
      (req) => this.#handle(req),
    );
    this.baseUrl = `http://127.0.0.1:${this.#server.addr.port}/v1`;
  }

  /** Makes the next generation call(s) with `key` (or any key: `*`) answer `reply`. */
  failNext(reply: ScriptedReply, { key = "*", times = 1 } = {}): void {
    const queue = this.#scripted.get(key) ?? [];
    for (let i = 0; i < times; i++) queue.push(reply);
    this.#scripted.set(key, queue);
  }

  /** Expires every image link issued so far, as an hour passing would. */
  expireAllLinks(): void {
    for (const image of this.#images.values()) image.expiresAt = 0;
  }

  get generationCalls(): RecordedCall[] {
    return this.calls.filter((c) => c.path === "/v1/images/generations");
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname.startsWith("/outputs/")) {
      if (this.options.imageDelayMs > 0) {
        await new Promise((r) => setTimeout(r, this.options.imageDelayMs));
      }
      const fault = this.options.chaos("image");
      if (fault) {
        return fault.cutOff
          ? cutOff(fault.status, fault.body)
          : reply(fault.status, fault.body, fault.headers);
      }
      return this.#serveImage(url);
    }
    const key = /^Bearer (.+)$/.exec(req.headers.get("authorization") ?? "")?.[1];
    const body = req.method === "POST" ? await req.json() : {};
    this.calls.push({ path: url.pathname, key, body });
    if (!key || !this.options.keys.includes(key)) return reply(401, '"Invalid token"');

    const scripted = this.#scripted.get(key)?.shift() ?? this.#scripted.get("*")?.shift() ??
      (url.pathname === "/v1/images/generations" ? this.options.chaos("generation") : undefined);
    if (scripted?.cutOff) return cutOff(scripted.status, scripted.body);
    if (scripted) return reply(scripted.status, scripted.body, scripted.headers);

    if (url.pathname === "/v1/models" && req.method === "GET") {
      const subType = url.searchParams.get("sub_type") ?? "";
      const ids = MODELS[subType] ?? [...new Set(Object.values(MODELS).flat())];
      return reply(200, {
        object: "list",
        data: ids.map((id) => ({ id, object: "model", created: 0, owned_by: "" })),
      });
    }
    if (url.pathname === "/v1/images/generations" && req.method === "POST") {
      this.maxInFlight = Math.max(this.maxInFlight, ++this.#inFlight);
      try {
        return await this.#generate(url, body);
      } finally {
        this.#inFlight--;
      }
    }
    if (url.pathname === "/v1/chat/completions" && req.method === "POST") {
      return reply(200, {
        id: "chatcmpl-fake",
        object: "chat.completion",
        created: 0,
        model: body.model,
        choices: [{ index: 0, message: this.options.chatMessage(body), finish_reason: "stop" }],
        usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
      });
    }
    return new Response("404 page not found", { status: 404 });
  }

  async #generate(url: URL, body: Record<string, unknown>): Promise<Response> {
    const model = String(body.model ?? "");
    const known = new Set(Object.values(MODELS).flat());
    if (!known.has(model)) {
      return reply(400, {
        code: 20012,
        message: "Model does not exist. Please check it carefully.",
        data: null,
      });
    }
    if (this.options.delayMs > 0) await new Promise((r) => setTimeout(r, this.options.delayMs));
    const count = model === "Kwai-Kolors/Kolors" ? Number(body.batch_size ?? 1) : 1;
    const prompt = String(body.prompt ?? "");
    this.madeByPrompt.set(prompt, (this.madeByPrompt.get(prompt) ?? 0) + count);
    const images = Array.from({ length: count }, () => {
      const token = crypto.randomUUID();
      const expiresAt = Date.now() + this.options.imageTtlMs;
      this.promptOfImage[this.#imageCount] = prompt;
      this.#images.set(token, { bytes: this.options.image(this.#imageCount++), expiresAt });
      const expires = Math.floor(expiresAt / 1000);
      return {
        url: `${url.origin}/outputs/${token}_0.png?OSSAccessKeyId=LTAI5tFake&Expires=${expires}` +
          `&Signature=${encodeURIComponent(btoa(token).slice(0, 27))}${this.options.linkQuery}`,
      };
    });
    const seed = typeof body.seed === "number" ? body.seed : 123456789;
    const padding = this.options.replyPadding > 0
      ? { padding: "x".repeat(this.options.replyPadding) }
      : {};
    return reply(200, { images, timings: { inference: 1.25 }, seed, shared_id: "0", ...padding });
  }

  #serveImage(url: URL): Response {
    this.imageRequests.push(url.pathname);
    const token = /^\/outputs\/([^_]+)_0\.png$/.exec(url.pathname)?.[1] ?? "";
    const image = this.#images.get(token);
    if (!image) return new Response("<Error><Code>NoSuchKey</Code></Error>", { status: 404 });
    if (Date.now() >= image.expiresAt) {
      return new Response(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>AccessDenied</Code>\n' +
          "  <Message>Request has expired.</Message>\n</Error>",
        { status: 403, headers: { "content-type": "application/xml" } },
      );
    }
    return new Response(image.bytes as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": "application/octet-stream" },
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}

/** A response whose body breaks off halfway, as a dropped connection does. */
function cutOff(status: number, body: unknown): Response {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.subarray(0, bytes.length >> 1));
      controller.error(new Error("connection dropped (simulated)"));
    },
  });
  return new Response(stream, { status, headers: { "content-type": "application/json" } });
}

function reply(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return new Response(text, {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

// `deno run -N -R -E tests/_support/fake_siliconflow.ts [port]` serves the fake on its own, to try the gateway
// without a SiliconFlow account: point SILICONFLOW_BASE_URL at the printed URL. Accepted keys come
// from FAKE_KEYS (default sk-test); images are 256×256 noise PNGs whose links live one hour.
if (import.meta.main) {
  // Standalone (the README's "Try it"): pictures a codec can shrink, one colour scheme per image.
  const { gradientPixels } = await import("./gradient.ts");
  const { codecs } = await import("../../lib/variants/codecs.ts");
  const codec = await codecs();
  const base = gradientPixels(512, 512);
  const schemes = await Promise.all([[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1]].map(
    async (order) => {
      const data = new Uint8ClampedArray(base.data.length);
      for (let i = 0; i < data.length; i += 4) {
        for (let c = 0; c < 3; c++) data[i + c] = base.data[i + order[c]];
        data[i + 3] = 255;
      }
      return new Uint8Array(await codec.encodePng({ data, width: 512, height: 512 }));
    },
  ));
  const fake = new FakeSiliconFlow({
    port: Number(Deno.args[0] ?? 9999), // `deno task fake 9998` for another port
    keys: (Deno.env.get("FAKE_KEYS") ?? "sk-test").split(","),
    image: (index) => schemes[index % schemes.length],
    imageTtlMs: 3600_000,
    // As slow as a real model when asked (FAKE_DELAY_MS), to try clients that give up.
    delayMs: Number(Deno.env.get("FAKE_DELAY_MS") ?? 0),
  });
  console.log(`fake SiliconFlow at ${fake.baseUrl} (key sk-test; Ctrl+C stops it)`);
}
