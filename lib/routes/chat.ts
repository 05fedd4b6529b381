/**
 * `POST /v1/chat/completions`: chat apps pick an image model as if it were a chat model; the
 * latest user message becomes the prompt and the answer is Markdown images with durable links.
 * Streamed or not; housekeeping prompts (titles, tags) are answered with text, for free.
 *
 * @module
 */
import { Hono } from "hono";
import { forRequest } from "../generation/generate.ts";
import { detectHousekeeping } from "../chat/housekeeping.ts";
import { prepareChatJob, runChatJob } from "../chat/job.ts";
import { completion, estimateUsage, newChatIdentity } from "../openai/chat_completion.ts";
import { readConversation } from "../openai/chat_messages.ts";
import { parseChatRequest } from "../openai/chat_request.ts";
import { streamAnswer, streamText } from "../openai/chat_stream.ts";
import { readJson } from "../openai/request_body.ts";
import type { GatewayServices } from "../services.ts";
import type { AuthVariables } from "./auth.ts";

export function chatRoutes(services: GatewayServices) {
  const { config } = services;
  const app = new Hono<{ Variables: AuthVariables }>();

  app.post("/completions", async (c) => {
    const body = await readJson(c.req.raw, config.requestBodyTimeoutMs);
    const chat = parseChatRequest(body);
    const ids = newChatIdentity(chat.model);
    const includeUsage = chat.stream_options?.include_usage === true;

    const chores = detectHousekeeping(chat.messages);
    if (chores) {
      const usage = estimateUsage(readConversation(chat.messages).text, chores.text);
      if (chat.stream) {
        return streamText(ids, chores.text, { usage: includeUsage ? usage : undefined });
      }
      return c.json(completion(ids, chores.text, usage));
    }

    const job = await prepareChatJob(chat, body as Record<string, unknown>, c.req.raw, services);
    const context = {
      services,
      withKey: c.get("withKey"),
      secrets: c.get("secrets"),
      client: c.get("client"),
      origin: c.req.raw,
    };
    // Counted before any stream starts, so that a client over its limit gets a plain 429.
    const admission = await services.limits.admit(context.client, job.plan.count);
    if (!chat.stream) {
      const answer = await forRequest(
        c.req.raw,
        services.shutdown.signal,
        (signal) => runChatJob(job, { ...context, signal }),
      ).finally(() => admission.release());
      return c.json(completion(ids, answer.content, answer.usage));
    }
    const work = (progress: (line: string) => void, signal: AbortSignal) =>
      runChatJob(job, { ...context, progress, signal }).finally(() => admission.release());
    return streamAnswer(ids, work, {
      includeUsage,
      progress: config.chatProgress,
      keepAliveMs: config.keepAliveMs,
      keepAliveFormat: config.keepAliveFormat,
      log: services.log,
      closing: services.shutdown.signal,
    });
  });

  return app;
}
