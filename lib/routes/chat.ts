/**
 * `POST /v1/chat/completions`: chat apps pick an image model as if it were a chat model; the
 * latest user message becomes the prompt and the answer is Markdown images with durable links.
 * Streamed or not; housekeeping prompts (titles, tags) are answered with text, for free. A client
 * that leaves after its images are paid for gets them on its retry (`generation/delivery.ts`).
 *
 * @module
 */
import { Hono } from "hono";
import { completionOf, deliverJson, holdFor, settleDelivery } from "../generation/delivered.ts";
import { recordedLink } from "../generation/answer_record.ts";
import { type Delivery, deliveryHeaders, DeliverySession } from "../generation/delivery.ts";
import { forRequest } from "../generation/generate.ts";
import {
  fingerprint,
  IDEMPOTENCY_HEADER,
  idempotencyKeyOf,
} from "../generation/request_identity.ts";
import { detectHousekeeping } from "../chat/housekeeping.ts";
import { chatAnswer, type ChatJobContext, prepareChatJob, produceChatImages } from "../chat/job.ts";
import { completion, estimateUsage, newChatIdentity } from "../openai/chat_completion.ts";
import { readConversation } from "../openai/chat_messages.ts";
import { parseChatRequest } from "../openai/chat_request.ts";
import { streamAnswer, streamText } from "../openai/chat_stream.ts";
import { readJson } from "../openai/request_body.ts";
import type { GatewayServices } from "../services.ts";
import { publicOrigin } from "../storage/links.ts";
import type { AuthVariables } from "./auth.ts";

export function chatRoutes(services: GatewayServices) {
  const { config } = services;
  const app = new Hono<{ Variables: AuthVariables }>();

  app.post("/completions", async (c) => {
    const body = await readJson(c.req.raw, config.requestBodyTimeoutMs);
    const chat = parseChatRequest(body);
    // A blank model means the default one, and the answer names it.
    const ids = newChatIdentity(chat.model || config.defaultModel);
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
    const context: ChatJobContext = {
      services,
      withKey: c.get("withKey"),
      secrets: c.get("secrets"),
      client: c.get("client"),
    };
    const origin = publicOrigin(c.req.raw, config.publicBaseUrl, config.trustProxyHeaders);
    // Limits and a reused idempotency key are refused before any stream starts: a plain 4xx.
    const session = await DeliverySession.open(services, {
      client: context.client,
      fingerprint: fingerprint("chat", { request: job.request, stream: chat.stream === true }),
      idempotencyKey: idempotencyKeyOf(c.req.header(IDEMPOTENCY_HEADER)),
      images: job.plan.count,
    });
    const completed = completionOf(c.env);
    // Paid images are handed over even if shaping their answer fails: as bare links.
    const answerOf = (delivery: Delivery) => {
      const settle = (queued: boolean) =>
        settleDelivery(delivery, { left: !queued, completed, log: services.log });
      try {
        return { ...chatAnswer(job, delivery.record, origin, config), settle };
      } catch (err) {
        services.log.error("cannot shape the chat answer; answering with the bare links:", err);
        const links = delivery.record.images.map((i) => recordedLink(i, origin)).join("\n\n");
        return { content: links, usage: estimateUsage(job.prompt, links), settle };
      }
    };
    if (!chat.stream) {
      const delivery = await forRequest(
        c.req.raw,
        services.shutdown.signal,
        (departed) => session.run((gate) => produceChatImages(job, { ...context, gate }), departed),
      );
      const answer = answerOf(delivery);
      return deliverJson(
        delivery,
        completion(ids, answer.content, answer.usage),
        deliveryHeaders(delivery),
        {
          request: c.req.raw,
          completed,
          log: services.log,
        },
      );
    }
    return streamAnswer(ids, async (progress, departed) =>
      answerOf(
        await session.run(
          (gate) => produceChatImages(job, { ...context, gate, progress }),
          departed,
        ),
      ), {
      includeUsage,
      progress: config.chatProgress,
      keepAliveMs: config.keepAliveMs,
      keepAliveFormat: config.keepAliveFormat,
      log: services.log,
      closing: services.shutdown.signal,
      holdMs: () => holdFor(c.req.raw, completed),
      headers: session.knownHeaders,
    });
  });

  return app;
}
