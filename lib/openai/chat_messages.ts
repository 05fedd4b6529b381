/**
 * Reading a chat conversation for image generation: the prompt is the latest user message's text
 * (all text parts, in order), and its input images are that message's image parts and Markdown
 * images. For follow-up edits ("now make the sky purple") the most recent image earlier in the
 * conversation — usually our own previous answer — is found too. Pure: no HTTP, no KV.
 *
 * @module
 */
import { z } from "zod";
import { splitMarkdownImages } from "./markdown_images.ts";

const imageRef = z.union([z.string(), z.object({ url: z.string() }).loose()]).nullish();

const part = z.union([
  z.object({ type: z.literal("text"), text: z.string() }).loose(),
  z.object({ type: z.literal("image_url"), image_url: imageRef }).loose(),
  // Responses-style parts, as some clients send them in chat requests.
  z.object({
    type: z.literal("input_image"),
    image_url: imageRef.optional(),
    url: z.string().optional(),
    image: z.string().optional(),
  }).loose(),
  z.object({ type: z.literal("input_text"), text: z.string() }).loose(),
  z.object({ type: z.string() }).loose(),
]);

export const messageSchema = z.object({
  role: z.string(),
  content: z.union([z.string(), z.array(part).max(1000), z.null()]).optional(),
}).loose();

export type ChatMessage = z.infer<typeof messageSchema>;

export interface ConversationInput {
  /** The latest user message's text, Markdown images removed. */
  text: string;
  /** Images in the latest user message, in order: URLs or data URIs. */
  images: string[];
  /** The most recent image before the latest user message (for follow-up edits), if any. */
  previousImage: string | undefined;
}

function refUrl(ref: unknown): string | undefined {
  if (typeof ref === "string") return ref;
  if (ref && typeof ref === "object" && typeof (ref as { url?: unknown }).url === "string") {
    return (ref as { url: string }).url;
  }
  return undefined;
}

/** The text and images of one message, in the order they appear. */
export function readMessage(message: ChatMessage): { text: string; images: string[] } {
  const texts: string[] = [];
  const images: string[] = [];
  const addText = (text: string) => {
    // One linear pass, whatever the message's role or length (see markdown_images.ts).
    const split = splitMarkdownImages(text);
    for (const url of split.images) images.push(url);
    const rest = split.rest.replace(/[ \t]{2,}/g, " ").trim();
    if (rest !== "") texts.push(rest);
  };
  const content = message.content;
  if (typeof content === "string") addText(content);
  else if (Array.isArray(content)) {
    for (const p of content) {
      if ((p.type === "text" || p.type === "input_text") && typeof p.text === "string") {
        addText(p.text);
      } else if (p.type === "image_url") {
        const url = refUrl(p.image_url);
        if (url) images.push(url);
      } else if (p.type === "input_image") {
        const url = refUrl(p.image_url) ?? refUrl(p.url) ?? refUrl(p.image);
        if (url) images.push(url);
      }
    }
  }
  return { text: texts.join("\n"), images };
}

/**
 * Reads what an image request needs from a conversation. Earlier turns and system messages never
 * reach the prompt; they only matter as the source of a previous image.
 */
export function readConversation(messages: readonly ChatMessage[]): ConversationInput {
  const lastUser = messages.findLastIndex((m) => m.role === "user");
  const latest = lastUser === -1 ? { text: "", images: [] } : readMessage(messages[lastUser]);
  let previousImage: string | undefined;
  for (let i = (lastUser === -1 ? messages.length : lastUser) - 1; i >= 0; i--) {
    if (messages[i].role === "system") continue;
    const { images } = readMessage(messages[i]);
    if (images.length > 0) {
      previousImage = images[images.length - 1];
      break;
    }
  }
  return { text: latest.text, images: latest.images, previousImage };
}
