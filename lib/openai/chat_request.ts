/**
 * OpenAI's chat completion request as chat apps send it, validated: `model`, `messages`, `stream`
 * and `stream_options`; every other field passes through for the chat's image parameters.
 *
 * @module
 */
import { z } from "zod";
import { InvalidRequestError } from "../errors.ts";
import { messageSchema } from "./chat_messages.ts";

/** Longer than any conversation a chat app sends; only the latest turns are read anyway. */
export const MAX_MESSAGES = 10_000;
import { checkModelId, issueCode } from "./model_field.ts";

/** A string "true"/"false" counts as the boolean, as some clients' custom parameters send it. */
const flag = (what: string) =>
  z.preprocess(
    (v) => (v === "true" ? true : v === "false" ? false : v),
    z.boolean({ error: `${what} must be true or false` }).nullish(),
  );

const chatSchema = z.object({
  // Blank means the default model (`chooseModel`); the form is checked before the text is trimmed.
  model: z.string({ error: "model is required and must be a string" }).superRefine(checkModelId)
    .trim(),
  messages: z.array(messageSchema, { error: "messages must be an array of chat messages" })
    .min(1, "messages must not be empty")
    .max(MAX_MESSAGES, `messages may hold at most ${MAX_MESSAGES} messages`),
  stream: flag("stream"),
  stream_options: z.object({ include_usage: flag("stream_options.include_usage") }).loose()
    .nullish(),
}).loose();

export type ChatRequest = z.infer<typeof chatSchema>;

/** Validates a chat body; a failure names the field at fault (`messages.0.role`) in `param`. */
export function parseChatRequest(body: unknown): ChatRequest {
  const parsed = chatSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new InvalidRequestError(issue.message, {
    param: issue.path.length > 0 ? issue.path.join(".") : null,
    code: issueCode(issue),
  });
}
