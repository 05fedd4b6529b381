/**
 * One chat answer's work after validation: optional prompt enhancement, the SiliconFlow calls,
 * storing the images, and the Markdown answer. Reports progress lines for streaming answers.
 *
 * @module
 */
import { estimateUsage, imageMarkdown, type Usage } from "../openai/chat_completion.ts";
import { generateWithTools, type RequestContext } from "../generation/generate.ts";
import { linkOf } from "../openai/images_response.ts";
import { imageLink, publicOrigin } from "../storage/links.ts";
import type { GatewayServices } from "../services.ts";
import type { UpstreamPlan } from "../generation/upstream_plan.ts";

/** A validated chat image request. */
export interface ChatJob {
  /** The SiliconFlow calls, already checked against every limit. */
  plan: UpstreamPlan;
  /** The user's prompt with flags removed, used for the alt text. */
  prompt: string;
}

export interface ChatJobContext extends RequestContext {
  services: GatewayServices;
  /** The incoming request, for the origin of image links. */
  origin: Request;
  /** Receives one line per step, for streamed answers. */
  progress?: (line: string) => void;
}

export interface ChatAnswer {
  content: string;
  usage: Usage;
}

export async function runChatJob(job: ChatJob, context: ChatJobContext): Promise<ChatAnswer> {
  const { config } = context.services;
  const { outcome, plan, revisedPrompt: enhanced } = await generateWithTools(
    job.plan,
    job.prompt,
    context.services,
    context,
  );

  const origin = publicOrigin(context.origin, config.publicBaseUrl);
  // Chat answers carry web links only: a data URI bloats every later request and several apps do
  // not render it, so an image we could not store shows its (short-lived) upstream http link, or
  // nothing, with a note either way.
  const links = outcome.images.map((image) =>
    linkOf(image, (id, ext) => imageLink(origin, id, ext))
  )
    .filter((link) => /^https?:\/\//i.test(link));
  const temporary = outcome.images.filter((i) => !i.stored && /^https?:/i.test(i.upstreamUrl));
  const missing = outcome.images.length - links.length;
  let content = imageMarkdown(links, job.prompt, config.markdownAlt);
  if (temporary.length > 0) {
    content += `\n\n⚠️ ${temporary.length} image(s) could not be stored; their links expire in ` +
      "about an hour, so save them now.";
  }
  if (missing > 0) {
    content += `\n\n⚠️ ${missing} image(s) were made but could not be stored or linked.`;
  }
  if (enhanced) content += `\n\n> ${enhanced.replace(/\s*\n+\s*/g, " ")}`;
  if (outcome.failedCalls.length > 0) {
    content += `\n\n⚠️ ${outcome.failedCalls.length} of ${plan.bodies.length} requests to ` +
      `SiliconFlow failed: ${outcome.failedCalls[0].message}`;
  }
  return { content, usage: estimateUsage(job.prompt, content) };
}
