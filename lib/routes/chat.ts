/**
 * `POST /v1/chat/completions`: chat apps pick an image model as if it were a chat model; the
 * latest user message becomes the prompt and the answer is Markdown images with durable links.
 * Streamed or not; housekeeping prompts (titles, tags) are answered with text, for free.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AuthVariables } from "./auth.ts";
import { bodyImageParams, flagParams, mergeImageParams } from "../chat/params.ts";
import { completion, estimateUsage, newChatIdentity } from "../openai/chat_completion.ts";
import { messageSchema, readConversation } from "../openai/chat_messages.ts";
import { InvalidRequestError } from "../errors.ts";
import { detectHousekeeping } from "../chat/housekeeping.ts";
import { parseImageRequest } from "../openai/image_request.ts";
import { chooseInputImages, resolveInputImages } from "../generation/input_images.ts";
import { modelInfo } from "../generation/model_catalog.ts";
import { checkBannedKeywords } from "../generation/prompt_tools.ts";
import { parsePromptFlags } from "../chat/prompt_flags.ts";
import { publicOrigin } from "../storage/links.ts";
import type { GatewayServices } from "../services.ts";
import { planUpstreamCalls, resolveModel } from "../generation/upstream_plan.ts";
import { readJson } from "../openai/request_body.ts";
import { type ChatJob, runChatJob } from "../chat/job.ts";
import { streamAnswer, streamText } from "../openai/chat_stream.ts";

/** A string "true"/"false" counts as the boolean, as some clients' custom parameters send it. */
const flag = (what: string) =>
  z.preprocess(
    (v) => (v === "true" ? true : v === "false" ? false : v),
    z.boolean({ error: `${what} must be true or false` }).nullish(),
  );

/** The longest prompt read: as the images endpoint allows, and checked before any parsing. */
const MAX_PROMPT_CHARS = 32_000;

const chatSchema = z.object({
  model: z.string({ error: "model is required and must be a string" }).trim()
    .min(1, "model must not be empty"),
  messages: z.array(messageSchema, { error: "messages must be an array of chat messages" })
    .min(1, "messages must not be empty"),
  stream: flag("stream"),
  stream_options: z.object({ include_usage: flag("stream_options.include_usage") }).loose()
    .nullish(),
}).loose();

type ChatRequest = z.infer<typeof chatSchema>;

function parseChat(body: unknown): ChatRequest {
  const parsed = chatSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new InvalidRequestError(issue.message, {
    param: issue.path.length > 0 ? issue.path.join(".") : null,
    code: "invalid_value",
  });
}

/** Input images sent beside the messages (`image`, `images`), as a few clients do. */
function bodyImages(body: Record<string, unknown>): string[] {
  const list = [body.images, body.image, body.image2, body.image3].flat();
  return list.filter((v): v is string => typeof v === "string" && v.trim() !== "");
}

export function chatRoutes(services: GatewayServices) {
  const { config } = services;
  const app = new Hono<{ Variables: AuthVariables }>();

  /** Everything that can be refused is checked here, before a stream starts or money is spent. */
  async function prepare(
    chat: ChatRequest,
    body: Record<string, unknown>,
    origin: Request,
  ): Promise<ChatJob> {
    const conversation = readConversation(chat.messages);
    if (conversation.text.length > MAX_PROMPT_CHARS) {
      throw new InvalidRequestError(
        `The latest user message is ${conversation.text.length} characters; prompts may have at ` +
          `most ${MAX_PROMPT_CHARS}`,
        { param: "messages", code: "prompt_too_long" },
      );
    }
    const info = modelInfo(resolveModel(chat.model, config.modelAliases));
    const flags = parsePromptFlags(conversation.text);
    if (flags.prompt === "") {
      throw new InvalidRequestError(
        "The latest user message has no text to turn into an image; describe what you want",
        { param: "messages", code: "missing_prompt" },
      );
    }
    checkBannedKeywords(flags.prompt, config.bannedKeywords);
    const images = chooseInputImages(info, conversation, bodyImages(body));
    const inputs = await resolveInputImages(images, {
      ...services.storage,
      ownOrigin: publicOrigin(origin, config.publicBaseUrl),
    });
    const params = mergeImageParams(bodyImageParams(body), flagParams(flags, info));
    inputs.forEach((image, i) => (params[i === 0 ? "image" : `image${i + 1}`] = image));
    const request = parseImageRequest({ ...params, model: chat.model, prompt: flags.prompt });
    const plan = planUpstreamCalls(request, {
      defaultModel: config.defaultModel,
      maxImages: config.maxImagesPerRequest,
      aliases: config.modelAliases,
    });
    return { plan, prompt: flags.prompt };
  }

  app.post("/completions", async (c) => {
    const body = await readJson(c.req.raw);
    const chat = parseChat(body);
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

    const job = await prepare(chat, body as Record<string, unknown>, c.req.raw);
    const context = {
      services,
      withKey: c.get("withKey"),
      secrets: c.get("secrets"),
      origin: c.req.raw,
    };
    if (!chat.stream) {
      // No client signal here: on Deno 2.9.6 reading request.signal logs a legacy-abort warning on
      // every request; streamed answers, which run long, stop through their own cancel().
      const answer = await runChatJob(job, context);
      return c.json(completion(ids, answer.content, answer.usage));
    }
    const work = (progress: (line: string) => void, signal: AbortSignal) =>
      runChatJob(job, { ...context, progress, signal });
    return streamAnswer(ids, work, {
      includeUsage,
      progress: config.chatProgress,
      keepAliveMs: config.keepAliveMs,
      log: services.log,
    });
  });

  return app;
}
