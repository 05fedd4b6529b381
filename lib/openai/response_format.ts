/**
 * Which fields an Images API answer carries — `url`, `b64_json` or both — from what the client
 * asked for and what it is known to parse. Pure.
 *
 * - An explicit `response_format` is obeyed: `b64_json` gets only `b64_json` (Open WebUI and
 *   NextChat read `url` whenever it is there, and would refetch over the network what they already
 *   hold), `url` gets the link.
 * - Without one, OpenAI's own gpt-image models always answer `b64_json`, and clients written for
 *   them (the Vercel AI SDK's `@ai-sdk/openai` 3.x/4.x, Open WebUI) send none and parse only
 *   `b64_json`. So a request that named such a model (before our aliases) gets `b64_json`.
 * - Vercel AI SDK clients (`@ai-sdk/openai` requires `data[].b64_json`, and sends no
 *   `response_format` on edits) get `b64_json` beside the durable `url`, whatever they asked.
 *   Their User-Agent names the SDK: `ai-sdk/provider-utils/4…` (v6), `ai-sdk-provider-utils/5…`
 *   and `ai-sdk-openai/4…` (v7), `ai-sdk/openai-compatible/…`.
 * - A browser or Electron window (Cherry Studio) cannot set its User-Agent through `fetch`, so no
 *   detection can see the SDK there; `B64_BY_DEFAULT=true` adds `b64_json` to every answer that
 *   names no `response_format`.
 *
 * @module
 */

export type ResponseFormat = "url" | "b64_json";

/** The fields one answer carries. */
export interface AnswerFormat {
  format: ResponseFormat;
  /** Send `b64_json` beside `url`. */
  alsoBase64: boolean;
}

export interface FormatPolicy {
  /** `B64_FOR_AI_SDK`: add `b64_json` for clients whose User-Agent names the Vercel AI SDK. */
  b64ForAiSdk: boolean;
  /** `B64_BY_DEFAULT`: add `b64_json` whenever `response_format` is absent. */
  b64ByDefault: boolean;
}

/** `ai-sdk/`, `ai-sdk-provider-utils/`, `ai-sdk-openai/`: every Vercel AI SDK release since v5. */
const AI_SDK_AGENT = /(?:^|[\s(;])ai-sdk[/-][\w./-]*\//i;
/** OpenAI's image models that answer base64 only: `gpt-image-1`, `gpt-image-1-mini`, `chatgpt-image-latest`. */
const BASE64_ONLY_MODEL = /^(?:gpt-image|chatgpt-image)/i;

/** Whether a User-Agent is the Vercel AI SDK's. */
export function isAiSdkAgent(userAgent: string | null | undefined): boolean {
  return AI_SDK_AGENT.test(userAgent ?? "");
}

/**
 * The fields to answer with.
 *
 * @param asked the request's `response_format`, if any
 * @param requestedModel the model id as the client sent it, before aliases
 * @param userAgent the request's `User-Agent`
 */
export function answerFormat(
  asked: ResponseFormat | null | undefined,
  requestedModel: string | null | undefined,
  userAgent: string | null | undefined,
  policy: FormatPolicy,
): AnswerFormat {
  const aiSdk = policy.b64ForAiSdk && isAiSdkAgent(userAgent);
  if (asked === "b64_json") return { format: "b64_json", alsoBase64: false };
  if (asked === "url") return { format: "url", alsoBase64: aiSdk };
  if (BASE64_ONLY_MODEL.test(requestedModel?.trim() ?? "")) {
    return { format: "b64_json", alsoBase64: false };
  }
  return { format: "url", alsoBase64: aiSdk || policy.b64ByDefault };
}
