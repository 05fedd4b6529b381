/**
 * Streamed chat answers, as OpenAI clients parse them: headers and the role chunk at
 * once, progress while SiliconFlow works, a keep-alive comment at a fixed interval (so proxies with
 * 60–100 s idle limits never cut a long edit), the answer, a `finish_reason: "stop"` chunk, an
 * optional usage chunk, and `data: [DONE]`. A client that goes away stops the work not yet billed;
 * work billed goes on, and its answer is kept for the client's retry.
 *
 * @module
 */
import { type ChatIdentity, chunk, type Delta, type Usage, usageChunk } from "./chat_completion.ts";
import { errorFields, shuttingDown } from "../errors.ts";
import { escapeMarkdown } from "../markdown_escape.ts";
import type { Logger } from "../observability/log.ts";
import { type KeepAliveFormat, sseResponse, type SseWriter } from "./sse.ts";

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
  // deno-lint-ignore require-await
  return sseResponse(async (sse) => {
    sse.data(chunk(ids, { role: "assistant", content: "" }));
    sse.data(chunk(ids, { content: text }));
    finish(sse, ids, usage);
  }, { keepAlive: { ms: 15_000, format: "comment", frame: () => {} } });
}

export interface StreamAnswerOptions {
  includeUsage: boolean;
  /** Where progress lines go: "thinking" (`reasoning_content`), the answer text, or nowhere. */
  progress: "reasoning" | "content" | "off";
  keepAliveMs: number;
  /** `data` sends an empty chunk (`choices` with an empty delta) that relays forward. */
  keepAliveFormat: KeepAliveFormat;
  log: Logger;
  /** Aborts when the gateway's shutdown grace ends: the stream then ends with an error chunk. */
  closing?: AbortSignal;
  /** How long the end is held to see whether the client is still there (`held_answer.ts`). */
  holdMs?: () => number;
  /** Extra response headers (an answer given again says so). */
  headers?: Record<string, string>;
}

/** Streams the answer that `work` produces, reporting its progress lines as it goes. */
export function streamAnswer(
  ids: ChatIdentity,
  work: (
    progress: (line: string) => void,
    departed: AbortSignal,
  ) => Promise<{ content: string; usage: Usage; settle?: (queued: boolean) => Promise<void> }>,
  options: StreamAnswerOptions,
): Response {
  return sseResponse(async (sse, departed) => {
    sse.data(chunk(ids, { role: "assistant", content: "" }));
    const progress = (line: string) => {
      const delta: Delta | undefined = options.progress === "reasoning"
        ? { reasoning_content: `${line}\n` }
        : options.progress === "content"
        ? { content: `${line}\n\n` }
        : undefined;
      if (delta) sse.data(chunk(ids, delta));
    };
    // Told in any case once the work gave an answer: queued to the client, or not.
    let settle: ((queued: boolean) => Promise<void>) | undefined;
    let queued = false;
    try {
      const answer = await work(progress, departed);
      settle = answer.settle;
      sse.data(chunk(ids, { content: answer.content }));
      queued = await sse.hold(options.holdMs?.() ?? 0);
      finish(sse, ids, options.includeUsage ? answer.usage : undefined);
    } catch (err) {
      if (sse.closed) return;
      sse.data(errorChunk(ids, err, options.log));
      sse.done();
    } finally {
      await settle?.(queued);
    }
  }, {
    keepAlive: {
      ms: options.keepAliveMs,
      format: options.keepAliveFormat,
      frame: (sse) => sse.data(chunk(ids, {})),
    },
    closing: options.closing && {
      signal: options.closing,
      farewell: (sse) => sse.data(errorChunk(ids, shuttingDown(), options.log)),
    },
    headers: options.headers,
  });
}

/**
 * The last chunk of a failed stream: the error as text the user sees, plus an `error` object, on
 * which the OpenAI SDK raises an `APIError`.
 */
function errorChunk(ids: ChatIdentity, err: unknown, log: Logger) {
  const error = errorFields(err, log);
  // Messages can quote the request (a model id): shown as literal text, never as Markdown.
  return { ...chunk(ids, { content: `⚠️ ${escapeMarkdown(error.message)}` }, "stop"), error };
}
