/**
 * Server-sent events as OpenAI clients parse them: `data:` frames (optionally named with `event:`),
 * keep-alives, and a response that keeps proxies awake while slow work runs and stops that work when
 * the client goes away.
 *
 * A keep-alive is a comment line by default (an empty `data:` frame would break the SDK, comments
 * are skipped). Relays such as one-api forward only `data:` lines, so behind them a comment never
 * reaches the client and its own idle timer runs out: `SSE_KEEPALIVE_FORMAT=data` sends a frame
 * every client parses and ignores instead, chosen by the stream (an empty chat chunk, an image
 * stream's `keepalive` event).
 *
 * @module
 */
import { trackWork } from "../observability/request_context.ts";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  // Stops nginx (and proxies that honour it) from buffering the stream.
  "x-accel-buffering": "no",
};

const encoder = new TextEncoder();

/** Writes SSE frames to a stream controller until it is closed from either side. */
export class SseWriter {
  #controller: ReadableStreamDefaultController<Uint8Array>;
  closed = false;
  readonly #gone = Promise.withResolvers<void>();

  constructor(controller: ReadableStreamDefaultController<Uint8Array>) {
    this.#controller = controller;
  }

  data(payload: unknown, event?: string): void {
    const name = event ? `event: ${event}\n` : "";
    this.#write(`${name}data: ${JSON.stringify(payload)}\n\n`);
  }

  comment(text: string): void {
    this.#write(`: ${text}\n\n`);
  }

  /** The client went away (the stream was cancelled): nothing more is written. */
  cancelled(): void {
    this.closed = true;
    this.#gone.resolve();
  }

  /**
   * Waits `ms` before the stream may end, so that a client gone shows itself (Deno cancels the
   * stream when a write fails; see `held_answer.ts`); `false` when it did.
   */
  async hold(ms: number): Promise<boolean> {
    if (this.closed || ms <= 0) return !this.closed;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#gone.promise, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
    return !this.closed;
  }

  /** Sends `data: [DONE]` and closes the stream. */
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

/** `SSE_KEEPALIVE_FORMAT`: a comment line, or a harmless `data:` frame for relays. */
export type KeepAliveFormat = "comment" | "data";

/** How a stream keeps idle connections awake. */
export interface KeepAlive {
  ms: number;
  format: KeepAliveFormat;
  /** The `data:` frame sent when `format` is `data`. */
  frame: (sse: SseWriter) => void;
}

/** What a stream does when the gateway shuts down before its work is done. */
export interface StreamClosing {
  /** Aborts when the gateway's shutdown grace ends. */
  signal: AbortSignal;
  /** The last frame to send then (an error event in the stream's own format). */
  farewell: (sse: SseWriter) => void;
}

/**
 * A streamed response running `run`: it writes frames and must end with `sse.done()`. A
 * keep-alive goes out every `keepAlive.ms` until `run` settles; when the client goes away,
 * `departed` aborts and nothing more is written (`run` goes on with what is billed, and the
 * request is over only when it ends). When `closing` fires first (the gateway is shutting down),
 * the stream ends with its farewell frame and `data: [DONE]`.
 */
export function sseResponse(
  run: (sse: SseWriter, departed: AbortSignal) => Promise<void>,
  { keepAlive: alive, headers = {}, closing }: {
    keepAlive: KeepAlive;
    headers?: Record<string, string>;
    closing?: StreamClosing;
  },
): Response {
  const abort = new AbortController();
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  let writer: SseWriter | undefined;
  const farewell = () => {
    if (!writer || writer.closed) return;
    closing!.farewell(writer);
    writer.done();
    clearInterval(keepAlive);
    abort.abort();
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const sse = new SseWriter(controller);
      writer = sse;
      const beat = alive.format === "data"
        ? () => alive.frame(sse)
        : () => sse.comment("keep-alive");
      keepAlive = setInterval(beat, alive.ms);
      closing?.signal.addEventListener("abort", farewell, { once: true });
      if (closing?.signal.aborted) farewell();
      // run() handles its own errors; should one escape, the stream still ends instead of hanging.
      trackWork(
        run(sse, abort.signal).catch(() => sse.done()).finally(() => {
          clearInterval(keepAlive);
          closing?.signal.removeEventListener("abort", farewell);
        }),
      );
    },
    cancel() {
      writer?.cancelled();
      clearInterval(keepAlive);
      closing?.signal.removeEventListener("abort", farewell);
      abort.abort();
    },
  });
  return new Response(body, { headers: { ...headers, ...SSE_HEADERS } });
}
