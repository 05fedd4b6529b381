/**
 * One chat answer's work after validation: optional prompt enhancement, the SiliconFlow calls,
 * storing the images, and the Markdown answer. Reports progress lines for streaming answers.
 *
 * @module
 */
import { estimateUsage, imageMarkdown, type Usage } from "./chat_response.ts";
import { generateFor, logOutcome, type RequestContext } from "./generation.ts";
import type { ImageRequest } from "./image_request.ts";
import { linkOf } from "./images_response.ts";
import { imageLink, publicOrigin } from "./links.ts";
import { checkBannedKeywords } from "./moderation.ts";
import { enhancePrompt } from "./prompt_enhance.ts";
import type { GatewayServices } from "./services.ts";
import { planUpstreamCalls } from "./upstream_plan.ts";

/** A validated chat image request. */
export interface ChatJob {
  request: ImageRequest;
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

/** Rewrites the prompt when `PROMPT_ENHANCE_MODEL` is set; the original on any failure. */
async function maybeEnhance(prompt: string, context: ChatJobContext): Promise<string | undefined> {
  const { config, log, storage } = context.services;
  if (!config.promptEnhance) return undefined;
  context.progress?.("Improving the prompt…");
  const result = await enhancePrompt(prompt, {
    config: config.promptEnhance,
    fetch: storage.fetch,
    withKey: context.withKey,
    log,
    signal: context.signal,
  });
  if (!result.enhanced) return undefined;
  try {
    // The rewrite must obey the blocklist too; if it does not, the user's own words are used.
    checkBannedKeywords(result.prompt, config.bannedKeywords);
  } catch {
    log.warn("prompt enhancement added a banned word; using the original prompt");
    return undefined;
  }
  context.progress?.(`Prompt: ${result.prompt}`);
  return result.prompt;
}

export async function runChatJob(job: ChatJob, context: ChatJobContext): Promise<ChatAnswer> {
  const { config, log } = context.services;
  const enhanced = await maybeEnhance(job.request.prompt, context);
  const plan = planUpstreamCalls({ ...job.request, prompt: enhanced ?? job.request.prompt }, {
    defaultModel: config.defaultModel,
    maxImages: config.maxImagesPerRequest,
  });
  const size = plan.bodies[0].image_size;
  context.progress?.(
    `Generating ${plan.count} image${plan.count === 1 ? "" : "s"} with ${plan.model}` +
      `${size ? ` at ${size}` : ""}…`,
  );
  const started = performance.now();
  const outcome = await generateFor(plan, context.services, context);
  logOutcome(outcome, plan.bodies.length, log);
  context.progress?.(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);

  const origin = publicOrigin(context.origin, config.publicBaseUrl);
  const links = outcome.images.map((image) =>
    linkOf(image, (id, ext) => imageLink(origin, id, ext))
  );
  let content = imageMarkdown(links, job.prompt, config.markdownAlt);
  if (enhanced) content += `\n\n> ${enhanced.replace(/\s*\n+\s*/g, " ")}`;
  if (outcome.failedCalls.length > 0) {
    content += `\n\n⚠️ ${outcome.failedCalls.length} of ${plan.bodies.length} requests to ` +
      `SiliconFlow failed: ${outcome.failedCalls[0].message}`;
  }
  return { content, usage: estimateUsage(job.request.prompt, content) };
}
