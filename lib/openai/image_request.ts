/**
 * The OpenAI image request as clients send it, validated (`upstream_plan.ts` maps it to
 * SiliconFlow calls).
 *
 * Accepts OpenAI's fields (the GPT-image-only ones are accepted and ignored) and SiliconFlow's own
 * parameters, both plain (`seed`) and with the `sf_` prefix of earlier projects (`sf_seed`).
 * Numbers sent as strings (`"42"`) are accepted, as Cherry Studio's custom parameters send them.
 * Parameters may also come inside `extra_fields` (new-api rebuilds requests from known fields only
 * and keeps the rest there) or `extra_body`, as an object or as JSON text; a top-level value wins.
 * LobeChat's `width`/`height` and `aspectRatio`/`aspect_ratio` are read too; the plan maps them to
 * the model's nearest size.
 *
 * Limits that depend on the model or the gateway (`n` up to `MAX_IMAGES_PER_REQUEST`, each model's
 * steps and guidance range, the sizes it takes) are checked by the plan, which names them; here
 * only what holds for every model. Pure functions: no HTTP here.
 *
 * @module
 */
import { z } from "zod";
import { InvalidRequestError } from "../errors.ts";
import { MAX_SEED } from "../upstream/siliconflow.ts";
import { blankAsUnset, checkModelId, issueCode } from "./model_field.ts";

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
  aspectRatio: "aspect_ratio",
};

/** Fields that set one thing: the plan reads the first of a group that is present. */
const SAME_MEANING = [
  ["image_size", "size", "width", "height", "aspect_ratio"],
  ["n", "batch_size"],
  ["cfg", "guidance_scale"],
];

/** Where relays and SDKs put parameters they do not know, as an object or as JSON text. */
export const EXTRA_CONTAINERS = ["extra_fields", "extra_body"] as const;

/** The longest prompt, in code points (what a person counts), on every endpoint. */
export const MAX_PROMPT_CHARS = 32_000;

/** The length of a text in code points: an emoji or a rare CJK character counts once. */
export function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

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

const SIZE_PATTERN = /^(\d{2,5})\s*[x×*]\s*(\d{2,5})$/i;

/**
 * `1024x1024` (also `1024X1024`, `1024*1024`) normalised to `WxH`; `auto` means the model's
 * default. Anything else is kept as written: the plan refuses it with one of the model's own
 * sizes as the example.
 */
const size = (what: string) =>
  z.string({ error: `${what} must be a string such as "1024x1024"` }).trim().transform((v) => {
    if (v === "" || v.toLowerCase() === "auto") return undefined;
    const match = SIZE_PATTERN.exec(v);
    return match ? `${Number(match[1])}x${Number(match[2])}` : v;
  }).optional().nullable();

const RATIO_PATTERN = /^(\d+(?:\.\d+)?)\s*[:/x×]\s*(\d+(?:\.\d+)?)$/i;

/** `16:9` (also `16/9`, `16x9`) as two positive numbers. */
const ratio = z.string({ error: 'aspect_ratio must be a string such as "16:9"' }).trim()
  .transform((v, ctx) => {
    if (v === "" || v.toLowerCase() === "auto") return undefined;
    const match = RATIO_PATTERN.exec(v);
    const [width, height] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
    if (!(width > 0 && height > 0)) {
      ctx.addIssue({
        code: "custom",
        message: `aspect_ratio "${v}" is not a ratio; use WIDTH:HEIGHT such as "16:9"`,
      });
      return z.NEVER;
    }
    return { width, height };
  }).optional().nullable();

/** A whole number whose range (`MAX_IMAGES_PER_REQUEST`, the model's steps) the plan checks and states. */
const count = (what: string) =>
  numeric(z.number({ error: `${what} must be a number` }).int(`${what} must be an integer`))
    .optional();

/** A number; the model's own range is the plan's to check and state. */
const guidance = (what: string) =>
  numeric(z.number({ error: `${what} must be a number` })).optional();

const inputImage = (what: string) =>
  z.string().trim().refine(
    (v) => /^data:image\/[a-z0-9.+-]+;base64,/i.test(v) || /^https?:\/\//i.test(v),
    { message: `${what} must be a data:image/…;base64 URI or an http(s) URL` },
  ).optional().nullable();

/** The formats an answer's images may be sent in (OpenAI's three, and AVIF). */
export const OUTPUT_FORMATS = ["png", "jpeg", "webp", "avif"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `output_format`, in any letter case, `jpg` read as `jpeg`; bounded before it is lowered. */
const outputFormat = z.preprocess(
  (v) =>
    typeof v === "string" && v.length <= 8
      ? (v.trim().toLowerCase() === "jpg" ? "jpeg" : v.trim().toLowerCase() || undefined)
      : v,
  z.enum(OUTPUT_FORMATS, { error: 'output_format must be "png", "jpeg", "webp" or "avif"' })
    .nullish(),
);

const requestSchema = z.object({
  // Blank is not set; the form is checked before the text is trimmed.
  model: z.preprocess(
    blankAsUnset,
    z.string({ error: "model must be a string" }).superRefine(checkModelId).trim().nullish(),
  ),
  prompt: z.string({ error: "prompt is required and must be a string" }).trim()
    .min(1, "prompt must not be empty")
    .refine((v) => codePoints(v) <= MAX_PROMPT_CHARS, {
      error: (issue) =>
        `prompt is ${codePoints(String(issue.input))} characters; at most ${MAX_PROMPT_CHARS}`,
    }),
  n: count("n"),
  size: size("size"),
  // LobeChat's parameters; `size` wins over them, `width`/`height` over `aspect_ratio`.
  width: int(1, 16_384, "width"),
  height: int(1, 16_384, "height"),
  aspect_ratio: ratio,
  response_format: z.enum(["url", "b64_json"], {
    error: 'response_format must be "url" or "b64_json"',
  }).optional().nullable(),
  negative_prompt: z.string({ error: "negative_prompt must be a string" }).optional().nullable(),
  image_size: size("image_size"),
  batch_size: count("batch_size"),
  seed: int(0, MAX_SEED, "seed"),
  num_inference_steps: count("num_inference_steps"),
  guidance_scale: guidance("guidance_scale"),
  cfg: guidance("cfg"),
  image: inputImage("image"),
  image2: inputImage("image2"),
  image3: inputImage("image3"),
  // OpenAI fields that SiliconFlow has no use for; accepted so SDK calls never fail on them.
  quality: z.unknown().optional(),
  style: z.unknown().optional(),
  user: z.unknown().optional(),
  background: z.unknown().optional(),
  moderation: z.unknown().optional(),
  // The answer's format, converted by the gateway (`generation/output_format.ts`).
  output_format: outputFormat,
  /** FLUX.1-schnell's own switch; sent only to models that take it. */
  prompt_enhancement: z.preprocess(
    (v) => (v === "true" ? true : v === "false" ? false : v),
    z.boolean({ error: "prompt_enhancement must be true or false" }).nullish(),
  ),
  output_compression: int(0, 100, "output_compression"),
  partial_images: z.unknown().optional(),
  stream: z.preprocess(
    (v) => (v === "true" ? true : v === "false" ? false : v),
    z.boolean({ error: "stream must be true or false" }).nullish(),
  ),
});

/** The request as validated, and how the client spelled each field (for error messages). */
export type ImageRequest = z.output<typeof requestSchema> & {
  /** Canonical name → the name the client sent (`sf_seed`, `extra_fields.seed`), where they differ. */
  spelledAs?: Readonly<Record<string, string>>;
};

/** How the client spelled a field, for the `param` of an error about it. */
export function spelledAs(req: ImageRequest, field: string): string {
  return req.spelledAs?.[field] ?? field;
}

/**
 * Validates a JSON body. A failure is an {@link InvalidRequestError} whose `param` is the field as
 * the client spelled it (`sf_seed` stays `sf_seed`, a field of `extra_fields` is
 * `extra_fields.seed`).
 *
 * Parameters come from three places, each with its aliases resolved on its own, then merged:
 * `extra_body` under `extra_fields` under the top level. So a top-level value wins whatever it is
 * called (`sf_seed` beats `extra_fields.seed`).
 */
export function parseImageRequest(body: unknown): ImageRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidRequestError("The request body must be a JSON object");
  }
  const record = body as Record<string, unknown>;
  const values: Record<string, unknown> = {};
  const spelled: Record<string, string> = {};
  const sources = [...EXTRA_CONTAINERS].reverse().map((name) => ({
    prefix: `${name}.`,
    fields: extraObject(record[name], name) ?? {},
  }));
  const top = Object.fromEntries(
    Object.entries(record).filter(([name]) =>
      !(EXTRA_CONTAINERS as readonly string[]).includes(name)
    ),
  );
  for (const { prefix, fields } of [...sources, { prefix: "", fields: top }]) {
    const resolved = resolveAliases(fields);
    // What this source sets replaces every field that means the same from the sources under it.
    for (const group of SAME_MEANING) {
      if (!group.some((field) => resolved.values[field] != null)) continue;
      for (const field of group) [delete values[field], delete spelled[field]];
    }
    for (const [field, value] of Object.entries(resolved.values)) {
      if (value === undefined || value === null) continue;
      values[field] = value;
      const name = `${prefix}${resolved.spelledAs[field] ?? field}`;
      if (name === field) delete spelled[field];
      else spelled[field] = name;
    }
  }
  const parsed = requestSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue.path[0] ?? "");
    const param = spelled[field] ?? (field || null);
    const message = param && param !== field ? issue.message.replace(field, param) : issue.message;
    throw new InvalidRequestError(message, { param, code: issueCode(issue) });
  }
  return Object.keys(spelled).length > 0 ? { ...parsed.data, spelledAs: spelled } : parsed.data;
}

function extraObject(value: unknown, name: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  let parsed: unknown = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidRequestError(`${name} must be a JSON object`, {
      param: name,
      code: "invalid_value",
    });
  }
  return parsed as Record<string, unknown>;
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
