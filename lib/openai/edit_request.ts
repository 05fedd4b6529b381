/**
 * Reading an image edit request (`POST /v1/images/edits`) as real clients send it: multipart
 * form data with the input images as files under any of the spellings in use (`image`, repeated
 * `image`, `image[]`, `image[N]`, `images`, `images[]`), or a JSON body whose images are data URIs
 * or URLs (strings, arrays, `{image_url: …}` objects). Forms are read as they stream, under the
 * caps of `form_body.ts`. The result is plain values: the other fields for `parseImageRequest`, and
 * the input images in order as `data:` URIs typed by their content, or http(s) URLs (made by
 * `edit_images.ts`).
 *
 * @module
 */
import { InvalidRequestError } from "../errors.ts";
import { type ImagePart, MAX_IMAGE_PARTS, toInputImages, UploadedFile } from "./edit_images.ts";
import { type FormEntry, MAX_IMAGE_TEXT_BYTES, readFormBody } from "./form_body.ts";
import { EXTRA_CONTAINERS, MAX_PROMPT_CHARS } from "./image_request.ts";
import { readJson } from "./request_body.ts";

/** An edit request, read but not yet validated beyond its images. */
export interface EditUpload {
  /** Every other field as sent (multipart text stays text; `parseImageRequest` reads `"2"` as 2). */
  fields: Record<string, unknown>;
  /** Input images in order: `data:<sniffed type>;base64,…` URIs or http(s) URLs. */
  images: string[];
  /** A mask came; SiliconFlow has no mask input, so it was dropped. */
  maskIgnored: boolean;
}

const LIST_FIELD = /^(?:sf_)?images?(?:\[(\d*)\])?$/;
const NUMBERED_FIELD = /^(?:sf_)?image([23])$/;
const MASK_FIELD = /^mask(?:\[\d*\])?$/;
const PROMPT_FIELD = /^(?:sf_)?(?:negative_)?prompt$/;
/**
 * Twice the most a valid prompt takes (four UTF-8 bytes per code point), so that a prompt a little
 * too long still gets the request schema's exact count.
 */
const PROMPT_TEXT_BYTES = 8 * MAX_PROMPT_CHARS;
/** Every other text field: a number, a size, a model id. */
const OTHER_TEXT_BYTES = 4096;
/** Longest field name looked at: names are matched by the patterns above only when shorter. */
const MAX_NAME_CHARS = 64;

/** Where a field's images go, or `undefined` when the field holds no images. */
function imageSlot(name: string): { rank: number; index?: number } | undefined {
  if (name.length > MAX_NAME_CHARS) return undefined;
  const list = LIST_FIELD.exec(name);
  if (list) return { rank: 0, index: list[1] ? Number(list[1]) : undefined };
  const numbered = NUMBERED_FIELD.exec(name);
  return numbered ? { rank: Number(numbered[1]) } : undefined;
}

const isMask = (name: string) => name.length <= MAX_NAME_CHARS && MASK_FIELD.test(name);

/** The text caps of an edit form, by field name. */
const FORM_RULES = {
  isImage: (name: string) => imageSlot(name) !== undefined,
  maxTextBytes: (name: string) =>
    imageSlot(name) || isMask(name)
      ? MAX_IMAGE_TEXT_BYTES
      : PROMPT_FIELD.test(name) || (EXTRA_CONTAINERS as readonly string[]).includes(name)
      ? PROMPT_TEXT_BYTES
      : OTHER_TEXT_BYTES,
};

/**
 * Reads an edit request: multipart (or URL-encoded) form data, else JSON whatever the declared type.
 *
 * @throws {InvalidRequestError} for unreadable bodies, too many parts and images that are not images
 * @throws {PayloadTooLargeError} for images over the caps of `edit_images.ts`
 */
export async function readEditUpload(request: Request, timeoutMs: number): Promise<EditUpload> {
  const type = request.headers.get("content-type")?.slice(0, 64).toLowerCase() ?? "";
  const form = /^(multipart\/form-data|application\/x-www-form-urlencoded)/.test(type);
  const { fields, parts, maskIgnored } = form
    ? readForm(await readFormBody(request, timeoutMs, FORM_RULES))
    : readJsonEdit(await readJson(request, timeoutMs));
  return { fields, images: toInputImages(inOrder(parts)), maskIgnored };
}

function readForm(entries: FormEntry[]) {
  // A Map, then Object.fromEntries: a field named `__proto__` stays a plain field.
  const fields = new Map<string, unknown>();
  const parts: ImagePart[] = [];
  let maskIgnored = false;
  for (const entry of entries) {
    const { name } = entry;
    const value = "file" in entry ? entry.file : entry.text;
    if (isMask(name)) {
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
  const parts: ImagePart[] = [];
  let maskIgnored = false;
  let count = 0;
  for (const [name, value] of Object.entries(body)) {
    if (isMask(name)) {
      maskIgnored ||= !isBlank(value);
      continue;
    }
    const slot = imageSlot(name);
    if (!slot) {
      fields.set(name, value);
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    // Counted as a form's parts are, before any image is looked at.
    if ((count += values.length) > MAX_IMAGE_PARTS) {
      throw new InvalidRequestError(
        `The request has more than ${MAX_IMAGE_PARTS} input images; edit models take at most 3`,
        { param: name, code: "too_many_images" },
      );
    }
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
  if (value instanceof UploadedFile) return value.size === 0 && value.name === "";
  return value === null || value === undefined ||
    (typeof value === "string" && value.trim() === "");
}

/**
 * Arrival order, except that `image[N]` parts are sorted by N among themselves (they keep the
 * places such parts held), and `image2`/`image3` come after the list.
 */
function inOrder(parts: ImagePart[]): ImagePart[] {
  const list = parts.filter((p) => p.rank === 0);
  const indexed = list.filter((p) => p.index !== undefined).sort((a, b) => a.index! - b.index!);
  const sorted = list.map((p) => (p.index === undefined ? p : indexed.shift()!));
  return [...sorted, ...parts.filter((p) => p.rank === 2), ...parts.filter((p) => p.rank === 3)];
}
