/**
 * The OpenAI image request as clients send it, validated (`upstream_plan.ts` maps it to
 * SiliconFlow calls).
 *
 * Accepts OpenAI's fields (the GPT-image-only ones are accepted and ignored) and SiliconFlow's own
 * parameters, both plain (`seed`) and with the `sf_` prefix of earlier projects (`sf_seed`).
 * Numbers sent as strings (`"42"`) are accepted, as Cherry Studio's custom parameters send them.
 * Pure functions: no HTTP here.
 *
 * @module
 */
import { z } from "zod";
import { InvalidRequestError } from "../errors.ts";
import { MAX_BATCH_SIZE, MAX_SEED } from "../upstream/siliconflow.ts";

/** Alternative names → canonical name. A canonical name that is present wins over its aliases. */
export const ALIASES: Record<string, string> = {
  sf_negative_prompt: "negative_prompt",
  sf_image_size: "image_size",
  sf_batch_size: "batch_size",
  sf_seed: "seed",
  sf_num_inference_steps: "num_inference_steps",
  sf_num_steps: "num_inference_steps",
  sf_steps: "num_inference_steps",
  steps: "num_inference_steps",
  sf_guidance_scale: "guidance_scale",
  sf_cfg: "cfg",
  cfg_scale: "cfg",
  sf_image: "image",
  sf_image2: "image2",
  sf_image3: "image3",
};

const DECIMAL = /^\s*-?\d+(\.\d+)?(e[+-]?\d+)?\s*$/i;

/**
 * A string holding a decimal number becomes that number, and `null` means "not set" (some clients
 * send every unset field as null); anything else is left for zod to judge.
 */
const numeric = <T extends z.ZodType>(schema: T) =>
  z.preprocess(
    (v) =>
      v === null || (typeof v === "string" && v.trim() === "")
        ? undefined
        : typeof v === "string" && DECIMAL.test(v)
        ? Number(v)
        : v,
    schema.optional(),
  );

const int = (min: number, max: number, what: string) =>
  numeric(
    z.number({ error: `${what} must be a number` }).int(`${what} must be an integer`)
      .min(min, `${what} must be between ${min} and ${max}`)
      .max(max, `${what} must be between ${min} and ${max}`),
  ).optional();

const num = (min: number, max: number, what: string) =>
  numeric(
    z.number({ error: `${what} must be a number` })
      .min(min, `${what} must be between ${min} and ${max}`)
      .max(max, `${what} must be between ${min} and ${max}`),
  ).optional();

const SIZE_PATTERN = /^(\d{2,5})\s*[x×*]\s*(\d{2,5})$/i;

/** `1024x1024` (also `1024X1024`, `1024*1024`) normalised to `WxH`; `auto` means the model's default. */
const size = (what: string) =>
  z.string({ error: `${what} must be a string such as "1024x1024"` }).trim().transform(
    (v, ctx) => {
      if (v === "" || v.toLowerCase() === "auto") return undefined;
      const match = SIZE_PATTERN.exec(v);
      if (!match || Number(match[1]) === 0 || Number(match[2]) === 0) {
        ctx.addIssue({
          code: "custom",
          message: `${what} "${v}" is not a size; use WIDTHxHEIGHT such as "1024x1024"`,
        });
        return z.NEVER;
      }
      return `${Number(match[1])}x${Number(match[2])}`;
    },
  ).optional().nullable();

const inputImage = (what: string) =>
  z.string().trim().refine(
    (v) => /^data:image\/[a-z0-9.+-]+;base64,/i.test(v) || /^https?:\/\//i.test(v),
    { message: `${what} must be a data:image/…;base64 URI or an http(s) URL` },
  ).optional().nullable();

const requestSchema = z.object({
  model: z.string({ error: "model must be a string" }).trim().min(1, "model must not be empty")
    .optional().nullable(),
  prompt: z.string({ error: "prompt is required and must be a string" }).trim()
    .min(1, "prompt must not be empty").max(32_000, "prompt must be at most 32000 characters"),
  n: int(1, 100, "n"),
  size: size("size"),
  response_format: z.enum(["url", "b64_json"], {
    error: 'response_format must be "url" or "b64_json"',
  }).optional().nullable(),
  negative_prompt: z.string({ error: "negative_prompt must be a string" }).optional().nullable(),
  image_size: size("image_size"),
  batch_size: int(1, MAX_BATCH_SIZE, "batch_size"),
  seed: int(0, MAX_SEED, "seed"),
  num_inference_steps: int(1, 100, "num_inference_steps"),
  // The widest documented range (legacy Stable Diffusion: 0–100); each model's own range is
  // checked when the request is fitted to the model (upstream_plan.ts).
  guidance_scale: num(0, 100, "guidance_scale"),
  cfg: num(0.1, 20, "cfg"),
  image: inputImage("image"),
  image2: inputImage("image2"),
  image3: inputImage("image3"),
  // OpenAI fields that SiliconFlow has no use for; accepted so SDK calls never fail on them.
  quality: z.unknown().optional(),
  style: z.unknown().optional(),
  user: z.unknown().optional(),
  background: z.unknown().optional(),
  moderation: z.unknown().optional(),
  output_format: z.unknown().optional(),
  /** FLUX.1-schnell's own switch; sent only to models that take it. */
  prompt_enhancement: z.preprocess(
    (v) => (v === "true" ? true : v === "false" ? false : v),
    z.boolean({ error: "prompt_enhancement must be true or false" }).nullish(),
  ),
  output_compression: z.unknown().optional(),
  partial_images: z.unknown().optional(),
  stream: z.preprocess(
    (v) => (v === "true" ? true : v === "false" ? false : v),
    z.boolean({ error: "stream must be true or false" }).nullish(),
  ),
});

export type ImageRequest = z.output<typeof requestSchema>;

/**
 * Validates a JSON body. A failure is an {@link InvalidRequestError} whose `param` is the field as
 * the client spelled it (`sf_seed` stays `sf_seed`).
 */
export function parseImageRequest(body: unknown): ImageRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidRequestError("The request body must be a JSON object");
  }
  const { values, spelledAs } = resolveAliases(body as Record<string, unknown>);
  const parsed = requestSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue.path[0] ?? "");
    const param = spelledAs[field] ?? (field || null);
    const message = param && param !== field ? issue.message.replace(field, param) : issue.message;
    throw new InvalidRequestError(message, { param, code: "invalid_value" });
  }
  return parsed.data;
}

function resolveAliases(body: Record<string, unknown>) {
  const values: Record<string, unknown> = { ...body };
  const spelledAs: Record<string, string> = {};
  for (const [alias, canonical] of Object.entries(ALIASES)) {
    if (body[alias] === undefined || body[alias] === null) continue;
    delete values[alias];
    if (body[canonical] === undefined || body[canonical] === null) {
      values[canonical] = body[alias];
      spelledAs[canonical] = alias;
    }
  }
  return { values, spelledAs };
}
