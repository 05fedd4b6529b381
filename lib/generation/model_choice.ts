/**
 * Which model serves a request, decided once per request: the alias (`MODEL_ALIASES`) resolved,
 * an OpenAI model id without an alias replaced by the gateway's default, an edit sent to an edit
 * model; and whether the request brings as many input images as that model takes. Pure.
 *
 * @module
 */
import { InvalidRequestError } from "../errors.ts";
import { type ModelInfo, modelInfo } from "./model_catalog.ts";

/** The endpoint asking: each fits models and words image-count errors its own way. */
export type Endpoint = "generations" | "edits" | "chat";

export interface ModelChoiceOptions {
  /** Lower-cased alias → SiliconFlow model id. */
  aliases: Readonly<Record<string, string>>;
  /** `DEFAULT_IMAGE_MODEL`: the model when a request names none. */
  defaultModel: string;
  /** Input images the request brings; edits choose their default model by it. */
  inputImages?: number;
  /** The spelling a provider of `PROVIDERS_JSON` declares the model in; then it is used so. */
  declared?: (model: string) => string | undefined;
}

export interface ModelChoice {
  /** The model that serves the request. */
  info: ModelInfo;
  /** The request named another model, which the caller reports (`X-Model-Substituted`). */
  substituted: boolean;
}

/** OpenAI's own image model ids, which SiliconFlow does not have. */
const OPENAI_IMAGE_MODEL = /^(dall-e-\d|gpt-image-|chatgpt-image-)/i;

/** Most aliases followed in a chain (`a=b,b=c`); a longer one is surely a loop. */
const MAX_ALIAS_HOPS = 8;

/**
 * The SiliconFlow model an alias (e.g. `dall-e-3`) stands for, case-insensitively, following a
 * chain of aliases to its end; a loop stops where it would repeat a name.
 */
export function resolveModel(name: string, aliases: Readonly<Record<string, string>> = {}): string {
  const seen = new Set<string>();
  let model = name;
  for (let hop = 0; hop < MAX_ALIAS_HOPS; hop++) {
    const next = aliases[model.toLowerCase()];
    if (next === undefined || seen.has(next.toLowerCase())) break;
    seen.add(model.toLowerCase());
    model = next;
  }
  return model;
}

/**
 * The model that serves a request to `endpoint` naming `requested`:
 * - generations: the alias, or the default when none is named; an OpenAI id without an alias (as
 *   clients configured for OpenAI send) is replaced by the default rather than sent to fail upstream;
 * - edits: the same, with {@link defaultEditModel} as the default, and a model that takes no input
 *   images (an alias such as gpt-image-1 for a text-to-image model) replaced by it too;
 * - chat: the alias only, as the chat app's model list offers it.
 *
 * An empty or blank `requested` is not set, on every endpoint.
 */
export function chooseModel(
  requested: string | undefined,
  endpoint: Endpoint,
  { aliases, defaultModel, inputImages = 0, declared = () => undefined }: ModelChoiceOptions,
): ModelChoice {
  const fallback = endpoint === "edits"
    ? defaultEditModel(inputImages, resolveModel(defaultModel, aliases))
    : defaultModel;
  // Empty or blank is not set: Open WebUI sends `model: ""` for edits.
  if (requested === undefined || requested.trim() === "") {
    return { info: modelInfo(resolveModel(fallback, aliases)), substituted: false };
  }
  let model = resolveModel(requested, aliases);
  const declaredAs = declared(model);
  if (declaredAs) return { info: modelInfo(declaredAs), substituted: false };
  let substituted = false;
  if (endpoint !== "chat" && OPENAI_IMAGE_MODEL.test(model)) {
    [model, substituted] = [resolveModel(fallback, aliases), true];
  }
  if (endpoint === "edits" && modelInfo(model).maxInputImages === 0) {
    [model, substituted] = [fallback, true];
  }
  return { info: modelInfo(model), substituted };
}

/**
 * The model an edit uses when it names none: `DEFAULT_IMAGE_MODEL` when that is an edit model
 * taking this many images (the operator chose it), else Qwen/Qwen-Image-Edit for one image and
 * Qwen/Qwen-Image-Edit-2509, the only model taking several, for more. The generations default
 * (Kolors unless configured) is a text-to-image model and would answer an edit with a variation.
 */
export function defaultEditModel(imageCount: number, configuredDefault: string): string {
  const configured = modelInfo(configuredDefault);
  if (
    configured.kind === "image-to-image" && imageCount >= configured.minInputImages &&
    imageCount <= configured.maxInputImages
  ) {
    return configuredDefault;
  }
  return imageCount > 1 ? "Qwen/Qwen-Image-Edit-2509" : "Qwen/Qwen-Image-Edit";
}

/**
 * Checks the number of input images against the model, before anything is paid for. Every
 * endpoint refuses fewer than the model needs, and an edit needs at least one. Edits and chat also
 * refuse more than the model takes; generations leave extras to the upstream plan, which drops
 * and reports them.
 *
 * @throws {InvalidRequestError} `missing_image` or `too_many_images`; for edits to a model that
 *   takes no images, `model_not_for_edits` (param `model`)
 */
export function checkInputImages(info: ModelInfo, count: number, endpoint: Endpoint): void {
  const least = endpoint === "edits" ? Math.max(1, info.minInputImages) : info.minInputImages;
  if (count < least) throw missingImages(info, count, least, endpoint);
  if (endpoint !== "generations" && count > info.maxInputImages) {
    throw tooManyImages(info, count, endpoint);
  }
}

function missingImages(info: ModelInfo, count: number, least: number, endpoint: Endpoint) {
  const code = "missing_image";
  if (endpoint === "generations") {
    return new InvalidRequestError(
      `${info.id} edits images: send the picture as image (data URI or URL), or use ` +
        "/v1/images/edits",
      { param: "image", code },
    );
  }
  if (endpoint === "chat") {
    const range = info.minInputImages === info.maxInputImages
      ? `${info.maxInputImages}`
      : `${Math.max(info.minInputImages, 1)} to ${info.maxInputImages}`;
    return new InvalidRequestError(
      `${info.id} edits images: attach ${range} image(s) to your message, or ask for a change ` +
        "after an image in this conversation",
      { param: "messages", code },
    );
  }
  return new InvalidRequestError(
    count === 0
      ? 'An edit needs an input image: send it as a file under "image" (several as ' +
        '"image[]"), or in JSON as "image": a data:image/…;base64 URI or an http(s) URL'
      : `${info.id} needs at least ${least} input images; the request has ${count}`,
    { param: "image", code },
  );
}

function tooManyImages(info: ModelInfo, count: number, endpoint: Endpoint) {
  const max = info.maxInputImages;
  const code = "too_many_images";
  if (endpoint === "chat") {
    return new InvalidRequestError(
      max === 0
        ? `${info.id} does not take input images; to edit an image, choose an edit model such ` +
          "as Qwen/Qwen-Image-Edit-2509"
        : `${info.id} takes at most ${max} input image(s); the message has ${count}`,
      { param: "messages", code },
    );
  }
  if (max === 0) {
    return new InvalidRequestError(
      `${info.id} does not take input images; to edit images choose an edit model such as ` +
        "Qwen/Qwen-Image-Edit-2509 (1 to 3 images) or Qwen/Qwen-Image-Edit (1 image)",
      { param: "model", code: "model_not_for_edits" },
    );
  }
  const hint = count <= 3 && info.id !== "Qwen/Qwen-Image-Edit-2509"
    ? "; Qwen/Qwen-Image-Edit-2509 takes up to 3"
    : "";
  return new InvalidRequestError(
    `${info.id} takes at most ${max} input image(s); the request has ${count}${hint}`,
    { param: "image", code },
  );
}
