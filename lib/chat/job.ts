/**
 * One chat answer's work, in two steps. {@link prepareChatJob} reads the conversation into an
 * image request and checks everything that can be refused, before a stream starts or money is
 * spent. {@link produceChatImages} then runs optional prompt enhancement, the SiliconFlow calls
 * and the storing of the images into the generation's record (reporting progress for streamed
 * answers), and {@link chatAnswer} writes the Markdown answer of a record: new, or kept for a
 * client that left.
 *
 * @module
 */
import { InvalidRequestError } from "../errors.ts";
import type { Config } from "../config.ts";
import { producedOf, recordedLink } from "../generation/answer_record.ts";
import type { Produced } from "../generation/delivery.ts";
import { generateWithTools, type RequestContext } from "../generation/generate.ts";
import type { OutputWant } from "../generation/output_format.ts";
import { resolveInputImages } from "../generation/input_images.ts";
import { chooseModel } from "../generation/model_choice.ts";
import { checkBannedKeywords } from "../generation/prompt_tools.ts";
import { planUpstreamCalls, type UpstreamPlan } from "../generation/upstream_plan.ts";
import { estimateUsage, type Usage } from "../openai/chat_completion.ts";
import { readConversation } from "../openai/chat_messages.ts";
import type { ChatRequest } from "../openai/chat_request.ts";
import {
  codePoints,
  type ImageRequest,
  MAX_PROMPT_CHARS,
  parseImageRequest,
} from "../openai/image_request.ts";
import type { GatewayServices } from "../services.ts";
import type { AnswerRecord } from "../storage/answer_records.ts";
import { publicOrigin } from "../storage/links.ts";
import { bodyImages, chooseInputImages } from "./conversation_images.ts";
import { escapeMarkdown, markdownLinkTarget } from "../markdown_escape.ts";
import { imageMarkdown } from "./markdown.ts";
import { bodyImageParams, flagParams, mergeImageParams } from "./params.ts";
import { parsePromptFlags } from "./prompt_flags.ts";

/** A validated chat image request. */
export interface ChatJob {
  /** The SiliconFlow calls, already checked against every limit. */
  plan: UpstreamPlan;
  /** The user's prompt with flags removed, used for the alt text. */
  prompt: string;
  /** The image request the conversation made, for the request's fingerprint. */
  request: ImageRequest;
}

export interface ChatJobContext extends RequestContext {
  services: GatewayServices;
  /** Receives one line per step, for streamed answers. */
  progress?: (line: string) => void;
}

export interface ChatAnswer {
  content: string;
  usage: Usage;
}

/**
 * Turns a chat request into its job: the prompt and flags of the latest user message, the input
 * images (our own links inlined), parameters by priority, and the upstream plan.
 *
 * @param body the whole chat body, for image parameters sent beside the messages
 * @param request the incoming request, for the origin of our own links
 */
export async function prepareChatJob(
  chat: ChatRequest,
  body: Record<string, unknown>,
  request: Request,
  services: GatewayServices,
): Promise<ChatJob> {
  const { config } = services;
  const conversation = readConversation(chat.messages);
  // As the images endpoint counts, and before any parsing.
  const length = codePoints(conversation.text);
  if (length > MAX_PROMPT_CHARS) {
    throw new InvalidRequestError(
      `The latest user message is ${length} characters; prompts may have at ` +
        `most ${MAX_PROMPT_CHARS}`,
      { param: "messages", code: "prompt_too_long" },
    );
  }
  const { info } = chooseModel(chat.model, "chat", {
    aliases: config.modelAliases,
    defaultModel: config.defaultModel,
    declared: services.providers.declares,
  });
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
    ownOrigin: publicOrigin(request, config.publicBaseUrl, config.trustProxyHeaders),
    param: "messages",
  });
  const params = mergeImageParams(bodyImageParams(body), flagParams(flags, info));
  inputs.forEach((image, i) => (params[i === 0 ? "image" : `image${i + 1}`] = image));
  const imageRequest = parseImageRequest({ ...params, model: info.id, prompt: flags.prompt });
  const plan = planUpstreamCalls(imageRequest, {
    defaultModel: config.defaultModel,
    maxImages: config.maxImagesPerRequest,
  });
  return { plan, prompt: flags.prompt, request: imageRequest };
}

/**
 * The format of the answer's links: the request's own `output_format`, else `CHAT_IMAGE_FORMAT`
 * (`png`, the default, keeps each original as it is, whatever its format).
 */
function chatOutput(
  req: ImageRequest,
  configured: Config["chatImageFormat"],
): OutputWant | undefined {
  if (req.output_format) return { format: req.output_format, compression: req.output_compression };
  return configured === "png" ? undefined : { format: configured };
}

/** Runs the job's generation (prompt tools, upstream calls, storing) into its record. */
export async function produceChatImages(
  job: ChatJob,
  context: ChatJobContext,
): Promise<Produced> {
  // Progress lines quote the (rewritten) prompt: as literal text, like everything else said.
  const progress = context.progress;
  const { outcome, plan, revisedPrompt } = await generateWithTools(
    job.plan,
    job.prompt,
    context.services,
    {
      ...context,
      progress: progress && ((line) => progress(escapeMarkdown(line))),
      output: chatOutput(job.request, context.services.config.chatImageFormat),
    },
  );
  return producedOf(outcome, plan, revisedPrompt);
}

/** The Markdown answer for a generation's record, with usage counted as clients expect. */
export function chatAnswer(
  job: ChatJob,
  record: AnswerRecord,
  origin: string,
  config: Config,
): ChatAnswer {
  // Chat answers carry web links only: a data URI bloats every later request and several apps do
  // not render it, so an image we could not store shows its (short-lived) upstream http link, or
  // nothing, with a note either way.
  // A link from upstream is made a safe Markdown target, or left out (`markdownLinkTarget`).
  const links = record.images.map((image) => markdownLinkTarget(recordedLink(image, origin) ?? ""))
    .filter((link): link is string => link !== undefined);
  const temporary = record.images.filter((i) =>
    i.id === undefined && markdownLinkTarget(i.url ?? "") !== undefined
  );
  const missing = record.images.length - links.length;
  let content = imageMarkdown(links, job.prompt, config.markdownAlt);
  if (temporary.length > 0) {
    content += `\n\n⚠️ ${temporary.length} image(s) could not be stored; their links expire in ` +
      "about an hour, so save them now.";
  }
  if (missing > 0) {
    content += `\n\n⚠️ ${missing} image(s) were made but could not be stored or linked.`;
  }
  if (record.revisedPrompt) content += `\n\n> ${escapeMarkdown(record.revisedPrompt)}`;
  if (record.failedCalls > 0) {
    content += `\n\n⚠️ ${record.failedCalls} of ${record.calls} requests to SiliconFlow ` +
      `failed: ${escapeMarkdown(record.failedMessage ?? "")}`;
  }
  return { content, usage: estimateUsage(job.prompt, content) };
}
