/**
 * Reading an image edit request (`POST /v1/images/edits`) as real clients send it: multipart
 * form data with the input images as files under any of the spellings in use (`image`, repeated
 * `image`, `image[]`, `image[N]`, `images`, `images[]`), or a JSON body whose images are data URIs
 * or URLs (strings, arrays, `{image_url: …}` objects). The result is plain values: the other fields
 * for `parseImageRequest`, and the input images in order as `data:` URIs typed by their content, or
 * http(s) URLs. Also the image-count rule and the model an edit uses when it names none.
 *
 * @module
 */
import { MB } from "../env_values.ts";
import { InvalidRequestError, PayloadTooLargeError } from "../errors.ts";
import { sniffImageType } from "../storage/image_type.ts";
import { toBase64 } from "./images_response.ts";
import { modelInfo } from "../generation/model_catalog.ts";
import { readJson } from "./request_body.ts";

/**
 * Largest input image. SiliconFlow documents no limit (images go to it inline, as base64 JSON);
 * OpenAI's "Create image edit" allows 4 MB for dall-e-2. 10 MB holds a full-resolution phone photo
 * while leaving room for more than two under {@link MAX_INPUT_IMAGES_TOTAL_BYTES}.
 */
export const MAX_INPUT_IMAGE_BYTES = 10 * MB;
/**
 * Largest total of input images in one request: under `app.ts`'s 32 MB body limit, so this clear
 * message is what a client sees, and three images inline as base64 stay near 33 MB.
 */
export const MAX_INPUT_IMAGES_TOTAL_BYTES = 25 * MB;

/** An edit request, read but not yet validated beyond its images. */
export interface EditUpload {
  /** Every other field as sent (multipart text stays text; `parseImageRequest` reads `"2"` as 2). */
  fields: Record<string, unknown>;
  /** Input images in order: `data:<sniffed type>;base64,…` URIs or http(s) URLs. */
  images: string[];
  /** A mask came; SiliconFlow has no mask input, so it was dropped. */
  maskIgnored: boolean;
}

/** One input image as it arrived; `label` names it in error messages (`image[1]`, a file name). */
interface Part {
  value: unknown;
  param: string;
  label: string;
  /** 0 for the list fields, 2 and 3 for SiliconFlow's `image2`/`image3`. */
  rank: number;
  /** N of `image[N]`. */
  index?: number;
}

const LIST_FIELD = /^(?:sf_)?images?(?:\[(\d*)\])?$/;
const NUMBERED_FIELD = /^(?:sf_)?image([23])$/;
const MASK_FIELD = /^mask(?:\[\d*\])?$/;
const DATA_URI = /^data:([^,]*?);base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Where a field's images go, or `undefined` when the field holds no images. */
function imageSlot(name: string): { rank: number; index?: number } | undefined {
  const list = LIST_FIELD.exec(name);
  if (list) return { rank: 0, index: list[1] ? Number(list[1]) : undefined };
  const numbered = NUMBERED_FIELD.exec(name);
  return numbered ? { rank: Number(numbered[1]) } : undefined;
}

/**
 * Reads an edit request: multipart (or URL-encoded) form data, else JSON whatever the declared type.
 *
 * @throws {InvalidRequestError} for unreadable bodies and images that are not images
 * @throws {PayloadTooLargeError} for an image over {@link MAX_INPUT_IMAGE_BYTES} or images over
 *   {@link MAX_INPUT_IMAGES_TOTAL_BYTES} together
 */
export async function readEditUpload(request: Request): Promise<EditUpload> {
  const type = request.headers.get("content-type")?.toLowerCase() ?? "";
  const form = /^(multipart\/form-data|application\/x-www-form-urlencoded)/.test(type);
  const { fields, parts, maskIgnored } = form
    ? await readForm(request)
    : readJsonEdit(await readJson(request));
  return { fields, images: await toInputImages(inOrder(parts)), maskIgnored };
}

async function readForm(request: Request) {
  let form: FormData;
  try {
    form = await request.formData();
  } catch (err) {
    throw new InvalidRequestError(
      `The form body could not be read: ${err instanceof Error ? err.message : err}`,
      { code: "invalid_multipart" },
    );
  }
  // A Map, then Object.fromEntries: a field named `__proto__` stays a plain field.
  const fields = new Map<string, unknown>();
  const parts: Part[] = [];
  let maskIgnored = false;
  for (const [name, value] of form) {
    if (MASK_FIELD.test(name)) {
      maskIgnored ||= !isBlank(value);
      continue;
    }
    const slot = imageSlot(name);
    if (slot) {
      const label = typeof value === "string" ? name : `${name}, file "${value.name}"`;
      if (!isBlank(value)) parts.push({ value, param: name, label, ...slot });
      continue;
    }
    // Files under other names are ignored, as unknown text fields are; the first value wins.
    if (typeof value !== "string" || fields.has(name)) continue;
    // Form fields are text; the request schema reads numbers and booleans from text itself.
    fields.set(name, value);
  }
  return { fields: Object.fromEntries(fields), parts, maskIgnored };
}

function readJsonEdit(body: unknown) {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidRequestError("The request body must be a JSON object");
  }
  const fields = new Map<string, unknown>();
  const parts: Part[] = [];
  let maskIgnored = false;
  for (const [name, value] of Object.entries(body)) {
    if (MASK_FIELD.test(name)) {
      maskIgnored ||= !isBlank(value);
      continue;
    }
    const slot = imageSlot(name);
    if (!slot) {
      fields.set(name, value);
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    values.forEach((v, i) => {
      const label = Array.isArray(value) ? `${name}[${i}]` : name;
      if (!isBlank(v)) parts.push({ value: v, param: name, label, ...slot });
    });
  }
  return { fields: Object.fromEntries(fields), parts, maskIgnored };
}

/**
 * An unset image: null, an empty string (clients that send every field), or the nameless empty
 * file a browser form sends for a file input left empty.
 */
function isBlank(value: unknown): boolean {
  if (value instanceof File) return value.size === 0 && value.name === "";
  return value === null || value === undefined ||
    (typeof value === "string" && value.trim() === "");
}

/**
 * Arrival order, except that `image[N]` parts are sorted by N among themselves (they keep the
 * places such parts held), and `image2`/`image3` come after the list.
 */
function inOrder(parts: Part[]): Part[] {
  const list = parts.filter((p) => p.rank === 0);
  const indexed = list.filter((p) => p.index !== undefined).sort((a, b) => a.index! - b.index!);
  const sorted = list.map((p) => (p.index === undefined ? p : indexed.shift()!));
  return [...sorted, ...parts.filter((p) => p.rank === 2), ...parts.filter((p) => p.rank === 3)];
}

type Source =
  | { kind: "file"; file: File; bytes: number }
  | { kind: "data"; payload: string; bytes: number }
  | { kind: "url"; url: string; bytes: number };

async function toInputImages(parts: Part[]): Promise<string[]> {
  const sources = parts.map((p, i) => sourceOf(p, i));
  // Sizes are checked before any file is read.
  let total = 0;
  sources.forEach((source, i) => {
    if (source.bytes > MAX_INPUT_IMAGE_BYTES) {
      throw new PayloadTooLargeError(
        `Input image ${i + 1} (${parts[i].label}) is ${source.bytes} bytes; each input image may ` +
          `be at most ${MAX_INPUT_IMAGE_BYTES / MB} MB (${MAX_INPUT_IMAGE_BYTES} bytes)`,
        { param: parts[i].param },
      );
    }
    total += source.bytes;
  });
  if (total > MAX_INPUT_IMAGES_TOTAL_BYTES) {
    throw new PayloadTooLargeError(
      `The ${parts.length} input images are ${total} bytes together; a request may carry at most ` +
        `${MAX_INPUT_IMAGES_TOTAL_BYTES / MB} MB (${MAX_INPUT_IMAGES_TOTAL_BYTES} bytes) of images`,
      { param: "image" },
    );
  }
  return await Promise.all(sources.map(async (source, i) => {
    if (source.kind === "url") return source.url;
    const head = source.kind === "file"
      ? new Uint8Array(await source.file.slice(0, 12).arrayBuffer())
      : decodeHead(source.payload);
    const type = head && sniffImageType(head);
    if (!type) {
      throw new InvalidRequestError(
        `Input image ${i + 1} (${parts[i].label}) is not a PNG, JPEG, WebP or GIF image ` +
          "(judged by its content, not its name or declared type)",
        { param: parts[i].param, code: "invalid_image" },
      );
    }
    const base64 = source.kind === "file"
      ? toBase64(new Uint8Array(await source.file.arrayBuffer()))
      : source.payload;
    return `data:${type.mime};base64,${base64}`;
  }));
}

/** What one part holds; strings must be data URIs or http(s) URLs. */
function sourceOf(p: Part, i: number): Source {
  if (p.value instanceof File) return { kind: "file", file: p.value, bytes: p.value.size };
  const ref = referenceOf(p.value)?.trim();
  const dataUri = ref === undefined ? null : DATA_URI.exec(ref);
  if (ref !== undefined && dataUri) {
    // Some encoders wrap base64 at 76 columns, and SiliconFlow's own example has a space after
    // the comma; neither belongs in the payload.
    const payload = ref.slice(dataUri[0].length).replace(/\s+/g, "");
    if (BASE64.test(payload)) {
      const padding = payload.endsWith("==") ? 2 : payload.endsWith("=") ? 1 : 0;
      return { kind: "data", payload, bytes: Math.floor(payload.length * 3 / 4) - padding };
    }
  } else if (ref !== undefined && /^https?:\/\/\S+$/i.test(ref) && URL.canParse(ref)) {
    return { kind: "url", url: ref, bytes: 0 };
  }
  throw new InvalidRequestError(
    `Input image ${i + 1} (${p.label}) cannot be used: send a file, a data:image/…;base64 URI ` +
      'or an http(s) URL (also as {"image_url": {"url": …}})',
    { param: p.param, code: "invalid_image" },
  );
}

/** A string, or the URL of `{image_url: "…"}` / `{image_url: {url: "…"}}`. */
function referenceOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value !== "object" || value === null) return undefined;
  const imageUrl = (value as { image_url?: unknown }).image_url;
  if (typeof imageUrl === "string") return imageUrl;
  const url = (imageUrl as { url?: unknown } | null | undefined)?.url;
  return typeof url === "string" ? url : undefined;
}

/** The first 12 bytes of a base64 payload: enough for {@link sniffImageType}. */
function decodeHead(payload: string): Uint8Array | undefined {
  const head = payload.slice(0, 16).replace(/=+$/, "");
  try {
    return Uint8Array.from(
      atob(head.slice(0, head.length - (head.length % 4))),
      (c) => c.charCodeAt(0),
    );
  } catch {
    return undefined;
  }
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
 * Checks the number of input images against the model: an edit needs at least one, and no more
 * than the model takes. A model that takes none (e.g. Qwen/Qwen-Image) is the wrong model.
 *
 * @throws {InvalidRequestError} `missing_image`, `too_many_images` (param `image`), or
 *   `model_not_for_edits` (param `model`)
 */
export function checkInputImageCount(model: string, count: number): void {
  const info = modelInfo(model);
  const atLeast = Math.max(1, info.minInputImages);
  if (count < atLeast) {
    throw new InvalidRequestError(
      count === 0
        ? 'An edit needs an input image: send it as a file under "image" (several as ' +
          '"image[]"), or in JSON as "image": a data:image/…;base64 URI or an http(s) URL'
        : `${info.id} needs at least ${atLeast} input images; the request has ${count}`,
      { param: "image", code: "missing_image" },
    );
  }
  if (info.maxInputImages === 0) {
    throw new InvalidRequestError(
      `${info.id} does not take input images; to edit images choose an edit model such as ` +
        "Qwen/Qwen-Image-Edit-2509 (1 to 3 images) or Qwen/Qwen-Image-Edit (1 image)",
      { param: "model", code: "model_not_for_edits" },
    );
  }
  if (count > info.maxInputImages) {
    const hint = count <= 3 && info.id !== "Qwen/Qwen-Image-Edit-2509"
      ? "; Qwen/Qwen-Image-Edit-2509 takes up to 3"
      : "";
    throw new InvalidRequestError(
      `${info.id} takes at most ${info.maxInputImages} input image(s); the request has ` +
        `${count}${hint}`,
      { param: "image", code: "too_many_images" },
    );
  }
}
