/**
 * OpenAI's chat completion shapes: the `chat.completion` object, the `chat.completion.chunk`
 * frames of a stream, and the `usage` clients show and sum. Pure.
 *
 * @module
 */

/** The identity every chunk of one answer repeats. */
export interface ChatIdentity {
  id: string;
  created: number;
  model: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function newChatIdentity(model: string): ChatIdentity {
  const random = crypto.randomUUID().replaceAll("-", "");
  return { id: `chatcmpl-${random}`, created: Math.floor(Date.now() / 1000), model };
}

/**
 * A rough token count (about four characters a token, as OpenAI's rule of thumb says): image
 * models have no tokens, but clients show and sum `usage`.
 */
export function estimateUsage(prompt: string, completion: string): Usage {
  const count = (text: string) => Math.max(1, Math.ceil(text.length / 4));
  const prompt_tokens = count(prompt);
  const completion_tokens = count(completion);
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
}

export function completion(ids: ChatIdentity, content: string, usage: Usage) {
  return {
    id: ids.id,
    object: "chat.completion",
    created: ids.created,
    model: ids.model,
    choices: [{
      index: 0,
      message: { role: "assistant", content },
      logprobs: null,
      finish_reason: "stop",
    }],
    usage,
  };
}

export interface Delta {
  role?: "assistant";
  content?: string;
  reasoning_content?: string;
}

export function chunk(ids: ChatIdentity, delta: Delta, finishReason: "stop" | null = null) {
  return {
    id: ids.id,
    object: "chat.completion.chunk",
    created: ids.created,
    model: ids.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  };
}

/** The last chunk when `stream_options.include_usage` is set: no choices, usage at the top. */
export function usageChunk(ids: ChatIdentity, usage: Usage) {
  return {
    id: ids.id,
    object: "chat.completion.chunk",
    created: ids.created,
    model: ids.model,
    choices: [],
    usage,
  };
}
