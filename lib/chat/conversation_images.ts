/**
 * The input images of a chat request: those of the latest user message, else those sent beside
 * the messages, else (for edit models, in a follow-up such as "now make the sky purple") the most
 * recent image earlier in the conversation. Pure.
 *
 * @module
 */
import type { ModelInfo } from "../generation/model_catalog.ts";
import { checkInputImages } from "../generation/model_choice.ts";
import type { ConversationInput } from "../openai/chat_messages.ts";

/** Input images sent beside the messages (`image`, `images`), as a few clients do. */
export function bodyImages(body: Record<string, unknown>): string[] {
  const list = [body.images, body.image, body.image2, body.image3].flat();
  return list.filter((v): v is string => typeof v === "string" && v.trim() !== "");
}

/**
 * The input images for this model, checked against how many it takes.
 *
 * @throws {InvalidRequestError} when the model needs images it did not get, or gets too many
 */
export function chooseInputImages(
  info: ModelInfo,
  conversation: ConversationInput,
  fromBody: readonly string[],
): string[] {
  let images = conversation.images.length > 0 ? [...conversation.images] : [...fromBody];
  if (images.length === 0 && info.minInputImages > 0 && conversation.previousImage) {
    images = [conversation.previousImage];
  }
  checkInputImages(info, images.length, "chat");
  return images;
}
