/**
 * Server-sent events for chat answers, as OpenAI clients parse them: headers and the role chunk at
 * once, progress while SiliconFlow works, a keep-alive comment at a fixed interval (so proxies with
 * 60–100 s idle limits never cut a long edit), the answer, a `finish_reason: "stop"` chunk, an
 * optional usage chunk, and `data: [DONE]`. A client that goes away stops the work.
 *
 * @module
 */
import { type ChatIdentity, chunk, type Delta, type Usage, usageChunk } from "./chat_response.ts";
import { GatewayError } from "./errors.ts";
import type { Logger } from "./log.ts";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  // Stops nginx (and proxies that honour it) from buffering the stream.
  "x-accel-buffering": "no",
};

const encoder = new TextEncoder();

/** Writes SSE frames to a stream controller until it is closed from either side. */
class SseWriter {
  #controller: ReadableStreamDefaultController<Uint8Array>;
  closed = false;

  constructor(controller: ReadableStreamDefaultController<Uint8Array>) {
    this.#controller = controller;
  }

  data(payload: unknown): void {
    this.#write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  /** A comment line, which every SSE client skips (an empty `data:` frame would break the SDK). */
  comment(text: string): void {
    this.#write(`: ${text}\n\n`);
  }

  done(): void {
    this.#write("data: [DONE]\n\n");
    if (this.closed) return;
    this.closed = true;
    this.#controller.close();
  }

  #write(text: string): void {
    if (this.closed) return;
    try {
      this.#controller.enqueue(encoder.encode(text));
    } catch {
      // The client went away between our check and the write.
      this.closed = true;
    }
  }
}

function finish(sse: SseWriter, ids: ChatIdentity, usage: Usage | undefined): void {
  sse.data(chunk(ids, {}, "stop"));
  if (usage) sse.data(usageChunk(ids, usage));
  sse.done();
}

/** A fixed text answer as a stream (housekeeping replies). */
export function streamText(
  ids: ChatIdentity,
  text: string,
  { usage }: { usage?: Usage },
): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const sse = new SseWriter(controller);
      sse.data(chunk(ids, { role: "assistant", content: "" }));
      sse.data(chunk(ids, { content: text }));
      finish(sse, ids, usage);
    },
  });
  return new Response(body, { headers: SSE_HEADERS });
}

export interface StreamAnswerOptions {
  includeUsage: boolean;
  /** Where progress lines go: "thinking" (`reasoning_content`), the answer text, or nowhere. */
  progress: "reasoning" | "content" | "off";
  keepAliveMs: number;
  log: Logger;
}

/** Streams the answer that `work` produces, reporting its progress lines as it goes. */
export function streamAnswer(
  ids: ChatIdentity,
  work: (
    progress: (line: string) => void,
    signal: AbortSignal,
  ) => Promise<{ content: string; usage: Usage }>,
  options: StreamAnswerOptions,
): Response {
  const abort = new AbortController();
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  let sse: SseWriter | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const writer = new SseWriter(controller);
      sse = writer;
      writer.data(chunk(ids, { role: "assistant", content: "" }));
      keepAlive = setInterval(() => writer.comment("keep-alive"), options.keepAliveMs);
      const progress = (line: string) => {
        const delta: Delta | undefined = options.progress === "reasoning"
          ? { reasoning_content: `${line}\n` }
          : options.progress === "content"
          ? { content: `${line}\n\n` }
          : undefined;
        if (delta) writer.data(chunk(ids, delta));
      };
      work(progress, abort.signal).then((answer) => {
        writer.data(chunk(ids, { content: answer.content }));
        finish(writer, ids, options.includeUsage ? answer.usage : undefined);
      }, (err) => {
        if (writer.closed) return;
        writer.data(errorChunk(ids, err, options.log));
        writer.done();
      }).finally(() => clearInterval(keepAlive));
    },
    cancel() {
      if (sse) sse.closed = true;
      clearInterval(keepAlive);
      abort.abort();
    },
  });
  return new Response(body, { headers: SSE_HEADERS });
}

/**
 * The last chunk of a failed stream: the error as text the user sees, plus an `error` object, on
 * which the OpenAI SDK raises an `APIError`.
 */
function errorChunk(ids: ChatIdentity, err: unknown, log: Logger) {
  const known = err instanceof GatewayError;
  if (!known) log.error("unhandled error in a chat stream:", err);
  const error = known
    ? { message: err.message, type: err.type, param: err.param, code: err.code }
    : {
      message: "Internal server error",
      type: "server_error",
      param: null,
      code: "internal_error",
    };
  return { ...chunk(ids, { content: `⚠️ ${error.message}` }, "stop"), error };
}
