/**
 * What the gateway knows about each SiliconFlow image model: its kind, the request fields it
 * accepts, its recommended sizes, whether it batches, and how many input images it takes. Models
 * SiliconFlow lists that are not in the table still work under generic rules. Pure: no I/O.
 *
 * Sources (tags as in `siliconflow-api.md`): SF-img, SiliconFlow's current "Image generations"
 * reference (§2 fields, §3 Kolors/Qwen sizes); SF-com, the international docs (FLUX.1-schnell,
 * FLUX.2-pro); SF-oapi, the legacy `openapi.yaml` (Pro FLUX, FLUX.1-dev, Stable Diffusion).
 *
 * @module
 */

/** Everything the gateway needs to shape a SiliconFlow request for one model. */
export interface ModelInfo {
  /** Canonical spelling when known (`Pro/` kept), else the id as given. */
  id: string;
  /** Whether the model is in the table below rather than described by generic rules. */
  known: boolean;
  kind: "text-to-image" | "image-to-image";
  /** Recommended "WxH" sizes, default first; empty when the model takes no `image_size`. */
  sizes: readonly string[];
  takesImageSize: boolean;
  /** Whether one call can return several images (`batch_size`, up to SiliconFlow's `MAX_BATCH_SIZE`). */
  batch: boolean;
  minInputImages: number;
  maxInputImages: number;
  /** SiliconFlow body fields the model accepts besides `model` and `prompt`. */
  params: ReadonlySet<string>;
  /** `num_inference_steps` range and default, when the model takes it. */
  steps?: { min: number; max: number; default: number };
  /** The model's prompt-adherence knob (`guidance_scale` or `cfg`), when it has one. */
  guidance?: { param: "guidance_scale" | "cfg"; min: number; max: number; default?: number };
}

// Fields SF-img lists as common to every current model (§2).
const COMMON = ["negative_prompt", "seed", "num_inference_steps"];
// §2: `num_inference_steps` is 1–100, default 20; legacy FLUX.1-dev allows only 1–30.
const STEPS = { min: 1, max: 100, default: 20 };

// §3 size lists, copied exactly.
const KOLORS_SIZES = ["1024x1024", "960x1280", "768x1024", "720x1440", "720x1280"];
const QWEN_SIZES = [
  "1328x1328",
  "1664x928",
  "928x1664",
  "1472x1140",
  "1140x1472",
  "1584x1056",
  "1056x1584",
];
const LEGACY_ENUM = ["1024x1024", "512x1024", "768x512", "768x1024", "1024x576", "576x1024"];
// SF-oapi also allows "others" up to 2,359,296 px here; snapping to the list is the safe subset.
const PRO_FLUX_SIZES = ["1024x1024", "960x1280", "768x1024", "720x1440", "720x1280"];
const SD21_SIZES = ["512x512", "512x1024", "768x512", "768x1024", "1024x576", "576x1024"];
const FLUX2_PRO_SIZES = ["512x512", "768x1024", "1024x768", "576x1024", "1024x576"];
/**
 * Sizes for models we do not know, one per common shape (1:1, 3:4, 4:3, 9:16, 16:9). 1024x1024,
 * 768x1024 and 720x1280 are on SiliconFlow's own lists for Kolors and the Pro FLUX/SDXL models;
 * 1024x768 and 1280x720 are their transposes. All are multiples of 16 and at most ~1 MP, far
 * under the 2,359,296 px cap SF-oapi gives for free-form sizes, so any diffusion model should
 * take them without an upstream 400.
 */
const GENERIC_SIZES = ["1024x1024", "768x1024", "1024x768", "720x1280", "1280x720"];

const KOLORS_GUIDANCE = { param: "guidance_scale", min: 0, max: 20, default: 7.5 } as const;
const SD_GUIDANCE = { param: "guidance_scale", min: 0, max: 100 } as const; // legacy SD schemas
// §2: cfg 0.1–20; the 4.0 default is ⚠️ (an aggregator's docs, SF-com zh's official setup).
const QWEN_CFG = { param: "cfg", min: 0.1, max: 20, default: 4 } as const;

interface Entry {
  kind?: ModelInfo["kind"];
  sizes?: readonly string[];
  batch?: boolean;
  images?: readonly [min: number, max: number];
  /** Fields besides `COMMON` (and `image_size` when `sizes` is non-empty). */
  extra?: readonly string[];
  /** Replaces `COMMON` when the model documents fewer fields. */
  base?: readonly string[];
  steps?: ModelInfo["steps"];
  guidance?: ModelInfo["guidance"];
}

const SD = { batch: true, extra: ["batch_size", "guidance_scale"], guidance: SD_GUIDANCE };
const SD_IMG2IMG = { ...SD, images: [0, 1], extra: [...SD.extra, "image"] } as const;

/** Keyed by canonical id; looked up case-insensitively. Sources per row: §3 table. */
const TABLE: Record<string, Entry> = {
  "Kwai-Kolors/Kolors": {
    sizes: KOLORS_SIZES,
    batch: true,
    images: [0, 1],
    extra: ["batch_size", "guidance_scale", "image"],
    guidance: KOLORS_GUIDANCE,
  },
  "Qwen/Qwen-Image": { sizes: QWEN_SIZES, extra: ["cfg"], guidance: QWEN_CFG },
  "Qwen/Qwen-Image-Edit": { kind: "image-to-image", images: [1, 1], extra: ["image"] },
  "Qwen/Qwen-Image-Edit-2509": {
    kind: "image-to-image",
    images: [1, 3],
    extra: ["image", "image2", "image3"],
  },
  "black-forest-labs/FLUX.1-schnell": { sizes: LEGACY_ENUM, extra: ["prompt_enhancement"] },
  "Pro/black-forest-labs/FLUX.1-schnell": { sizes: PRO_FLUX_SIZES },
  "black-forest-labs/FLUX.1-dev": {
    sizes: PRO_FLUX_SIZES,
    // 1–30 from SF-oapi; the default is §2's general 20, which lies inside it.
    steps: { min: 1, max: 30, default: 20 },
  },
  // ⚠️ Whether FLUX.2-pro takes input images on SiliconFlow is unknown: accept none.
  "black-forest-labs/FLUX.2-pro": { sizes: FLUX2_PRO_SIZES, extra: ["output_format"] },
  "stabilityai/stable-diffusion-3-5-large": { ...SD, sizes: LEGACY_ENUM },
  "stabilityai/stable-diffusion-3-medium": { ...SD, sizes: PRO_FLUX_SIZES },
  "stabilityai/stable-diffusion-xl-base-1.0": { ...SD_IMG2IMG, sizes: PRO_FLUX_SIZES },
  "stabilityai/stable-diffusion-2-1": { ...SD_IMG2IMG, sizes: SD21_SIZES },
  // Older SF-img only: fixed 384x384 output, so no image_size; other knobs undocumented.
  "deepseek-ai/Janus-Pro-7B": { base: ["seed"] },
};
// FLUX.1-pro and FLUX-1.1-pro appear only in third-party lists without sizes: generic rules.

const BY_LOWER_ID = new Map(Object.keys(TABLE).map((id) => [id.toLowerCase(), id]));

function build(id: string, known: boolean, entry: Entry): ModelInfo {
  const sizes = entry.sizes ?? [];
  const takesImageSize = sizes.length > 0;
  const fields = [...(entry.base ?? COMMON), ...(takesImageSize ? ["image_size"] : [])];
  const params = new Set([...fields, ...(entry.extra ?? [])]);
  const [minInputImages, maxInputImages] = entry.images ?? [0, 0];
  const info: ModelInfo = {
    id,
    known,
    kind: entry.kind ?? "text-to-image",
    sizes,
    takesImageSize,
    batch: entry.batch ?? false,
    minInputImages,
    maxInputImages,
    params,
  };
  if (params.has("num_inference_steps")) info.steps = entry.steps ?? STEPS;
  if (entry.guidance) info.guidance = entry.guidance;
  return info;
}

// Generic rules for ids not in the table.
const GENERIC: Entry = { sizes: GENERIC_SIZES, images: [0, 1], extra: ["image"] };
const GENERIC_EDIT: Entry = { kind: "image-to-image", images: [1, 1], extra: ["image"] };
// Any Stable Diffusion model batches, as the legacy SD schemas all had `batch_size`.
const GENERIC_SD: Entry = { ...GENERIC, ...SD, extra: [...SD.extra, "image"] };

/**
 * What the gateway knows about a model. Ids match case-insensitively; a `Pro/` prefix (SiliconFlow's
 * paid variant of the same model) falls back to the unprefixed entry when it has none of its own.
 * Unknown ids get generic rules: ids containing "edit" are single-image edit models without
 * `image_size`; the rest are text-to-image with five common sizes and at most one input image.
 */
export function modelInfo(id: string): ModelInfo {
  const lower = id.toLowerCase();
  const exact = BY_LOWER_ID.get(lower);
  if (exact) return build(exact, true, TABLE[exact]);
  const unprefixed = lower.startsWith("pro/") ? BY_LOWER_ID.get(lower.slice(4)) : undefined;
  if (unprefixed) return build(`Pro/${unprefixed}`, true, TABLE[unprefixed]);
  if (lower.includes("edit")) return build(id, false, GENERIC_EDIT);
  if (/^(pro\/)?stabilityai\/stable-diffusion/.test(lower)) return build(id, false, GENERIC_SD);
  return build(id, false, GENERIC);
}

/** Whether one upstream call can return several images of this model. */
export function supportsBatch(model: string): boolean {
  return modelInfo(model).batch;
}

/** `[width, height]` of a `WxH` size (also `X`, `×`, `*`), or `undefined`. */
export function parseSize(size: string): [number, number] | undefined {
  const match = /^\s*(\d+)\s*[x×*]\s*(\d+)\s*$/i.exec(size);
  if (!match) return undefined;
  const [width, height] = [Number(match[1]), Number(match[2])];
  return width > 0 && height > 0 ? [width, height] : undefined;
}

/**
 * The model's recommended size whose aspect ratio is nearest to `width:height`, compared on a log
 * scale so that 16:9 and 9:16 are equally far from 1:1; ties go to the earlier (default) size.
 * A ratio that is not positive and finite means no preference: the default size. `undefined` when
 * the model takes no `image_size`.
 */
export function sizeForRatio(model: string, width: number, height: number): string | undefined {
  const { sizes } = modelInfo(model);
  if (sizes.length === 0) return undefined;
  const wanted = Math.log(width / height);
  if (!Number.isFinite(wanted)) return sizes[0];
  let best = sizes[0];
  let bestDistance = Infinity;
  for (const size of sizes) {
    const [w, h] = parseSize(size)!;
    const distance = Math.abs(Math.log(w / h) - wanted);
    // The epsilon keeps mirrored ratios (4:3 vs 3:4 around 1:1) a tie despite rounding.
    if (distance < bestDistance - 1e-9) [best, bestDistance] = [size, distance];
  }
  return best;
}

/**
 * Maps a requested size (OpenAI's "WxH" or "auto") to what the model accepts. `snapped` is true when
 * the size sent differs from the size asked for. Models without `image_size` get none; "auto" or no
 * size leaves the choice to SiliconFlow; a listed size passes unchanged; any other size becomes the
 * listed size with the nearest aspect ratio, and an unreadable one the default size.
 */
export function snapSize(
  model: string,
  size?: string,
): { size: string | undefined; snapped: boolean } {
  const { sizes, takesImageSize } = modelInfo(model);
  const noPreference = size === undefined || size.trim().toLowerCase() === "auto";
  if (!takesImageSize) return { size: undefined, snapped: !noPreference };
  if (noPreference) return { size: undefined, snapped: false };
  const parsed = parseSize(size);
  if (!parsed) return { size: sizes[0], snapped: true };
  const listed = sizes.find((s) => s === `${parsed[0]}x${parsed[1]}`);
  if (listed) return { size: listed, snapped: false };
  return { size: sizeForRatio(model, parsed[0], parsed[1]), snapped: true };
}
