/**
 * Reading a form body (multipart or URL-encoded) as it streams, with `@fastify/busboy`, so that a
 * form cannot cost more than its caps: parts are counted as they arrive and the first one over
 * {@link MAX_FORM_PARTS} (or over {@link MAX_IMAGE_PARTS} images, or {@link MAX_FORM_FILES} files)
 * ends the reading with a 400 before any image is looked at; image files are kept only while
 * within `edit_images.ts`'s caps (beyond them only their size is counted, for its exact message),
 * other files are counted and dropped, text fields are capped by name, and so are part headers.
 * The bytes come through `request_body.ts` (its cap, budget and deadline).
 *
 * @module
 */
import { Busboy, type BusboyFileStream, type BusboyInstance } from "@fastify/busboy";
import { Buffer } from "node:buffer";
import { InvalidRequestError, PayloadTooLargeError } from "../errors.ts";
import { clip } from "../observability/log.ts";
import {
  MAX_IMAGE_PARTS,
  MAX_INPUT_IMAGE_BYTES,
  MAX_INPUT_IMAGES_TOTAL_BYTES,
  UploadedFile,
} from "./edit_images.ts";
import { BodyReader } from "./request_body.ts";

/** Most parts in all: a prompt, a few images and a mask, and the settings there are. */
export const MAX_FORM_PARTS = 64;
/** Most file parts, images or not. */
export const MAX_FORM_FILES = 16;
/** Longest field name (URL-encoded forms; in multipart the header cap below bounds it). */
const MAX_NAME_BYTES = 256;
/** Header lines of one part: `Content-Disposition`, `Content-Type`, a few more at most. */
const MAX_HEADER_PAIRS = 16;
/** Bytes of one part's headers: a file name is the longest thing in them. */
const MAX_HEADER_BYTES = 16 * 1024;
/** Longest text field of any name: an input image as a data URI, wrapped and with its head. */
export const MAX_IMAGE_TEXT_BYTES = Math.ceil(MAX_INPUT_IMAGE_BYTES / 3) * 4 * 1.05 + 1024;

/** How the caller's field names are treated. */
export interface FormRules {
  /** Whether a part under this name is an input image (kept and counted as one). */
  isImage(name: string): boolean;
  /** Most bytes of a text field under this name. */
  maxTextBytes(name: string): number;
}

/** One part, in arrival order. */
export type FormEntry =
  | { name: string; text: string }
  | { name: string; file: UploadedFile };

/**
 * The form's parts in arrival order.
 *
 * @throws {InvalidRequestError} for an unreadable form or one over its part counts
 * @throws {PayloadTooLargeError} for a text field over its cap, and as `BodyReader` throws
 */
export async function readFormBody(
  request: Request,
  timeoutMs: number,
  rules: FormRules,
): Promise<FormEntry[]> {
  const form = new FormParser(request.headers.get("content-type") ?? "", rules);
  const body = new BodyReader(request, timeoutMs);
  try {
    for (let chunk = await body.next(); chunk; chunk = await body.next()) {
      await form.write(chunk);
    }
    return await form.end();
  } finally {
    body.close();
  }
}

/** One busboy parser and what it found; the first failure wins and stops everything. */
class FormParser {
  readonly entries: FormEntry[] = [];
  readonly #busboy: BusboyInstance;
  readonly #rules: FormRules;
  #failure: Error | undefined;
  #failed: () => void = () => {};
  readonly #failing: Promise<void>;
  #parts = 0;
  #files = 0;
  #images = 0;
  /** Image bytes kept, for the total cap. */
  #kept = 0;

  constructor(contentType: string, rules: FormRules) {
    this.#rules = rules;
    this.#failing = new Promise((resolve) => (this.#failed = resolve));
    try {
      this.#busboy = Busboy({
        headers: { "content-type": contentType },
        // As the fetch standard's FormData reads a form: a part is a file when it has a filename.
        isPartAFile: (_name, _type, filename) => filename !== undefined,
        // One past the caps: `#count` sees the part over them (busboy would drop it unsaid).
        limits: {
          parts: MAX_FORM_PARTS + 1,
          fields: MAX_FORM_PARTS + 1,
          fieldNameSize: MAX_NAME_BYTES,
          fieldSize: MAX_IMAGE_TEXT_BYTES,
          headerPairs: MAX_HEADER_PAIRS,
          headerSize: MAX_HEADER_BYTES,
        },
      });
    } catch (err) {
      throw unreadable(err);
    }
    const tooMany = () => this.#fail(tooManyParts());
    this.#busboy.on("partsLimit", tooMany).on("fieldsLimit", tooMany);
    this.#busboy.on("error", (err: unknown) => this.#fail(unreadable(err)));
    this.#busboy.on("field", (name, text, nameCut, textCut) => {
      if (!this.#count(name, false)) return;
      const most = rules.maxTextBytes(name);
      if (nameCut) return this.#fail(new InvalidRequestError("A form field name is too long"));
      if (textCut || Buffer.byteLength(text) > most) {
        return this.#fail(
          new PayloadTooLargeError(
            `Form field "${clip(name, 64)}" is over ${most} bytes`,
            { param: clip(name, 64) },
          ),
        );
      }
      this.entries.push({ name, text });
    });
    this.#busboy.on("file", (name, stream, filename) => {
      stream.on("error", (err: unknown) => this.#fail(unreadable(err)));
      if (!this.#count(name, true)) return void stream.resume();
      this.#keepFile(name, filename, stream);
    });
  }

  /** Feeds a chunk; resolves once busboy has taken it. */
  async write(chunk: Uint8Array): Promise<void> {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const taken = new Promise<void>((resolve) => this.#busboy.write(bytes, () => resolve()));
    await Promise.race([taken, this.#failing]);
    if (this.#failure) throw this.#failure;
  }

  /** Ends the body; resolves with the entries once every part has ended. */
  async end(): Promise<FormEntry[]> {
    const finished = new Promise<void>((resolve) => this.#busboy.once("finish", () => resolve()));
    this.#busboy.end();
    await Promise.race([finished, this.#failing]);
    if (this.#failure) throw this.#failure;
    return this.entries;
  }

  /** Counts a part; false (and the reading failed) when it is one too many. */
  #count(name: string, file: boolean): boolean {
    if (this.#failure) return false;
    this.#parts++;
    if (file) this.#files++;
    if (this.#rules.isImage(name) && ++this.#images > MAX_IMAGE_PARTS) {
      this.#fail(
        new InvalidRequestError(
          `The request has more than ${MAX_IMAGE_PARTS} input images; edit models take at most 3`,
          { param: "image", code: "too_many_images" },
        ),
      );
      return false;
    }
    if (this.#files > MAX_FORM_FILES || this.#parts > MAX_FORM_PARTS) {
      this.#fail(tooManyParts());
      return false;
    }
    return true;
  }

  /** Collects an image file's bytes while within the caps; other files are only measured. */
  #keepFile(name: string, filename: string, stream: BusboyFileStream): void {
    const file = new UploadedFile(filename);
    this.entries.push({ name, file });
    let chunks: Buffer[] | undefined = this.#rules.isImage(name) ? [] : undefined;
    let kept = 0;
    stream.on("data", (data: Buffer) => {
      file.size += data.length;
      if (!chunks) return;
      if (
        file.size <= MAX_INPUT_IMAGE_BYTES &&
        this.#kept + data.length <= MAX_INPUT_IMAGES_TOTAL_BYTES
      ) {
        chunks.push(data);
        kept += data.length;
        this.#kept += data.length;
      } else {
        // Over a cap: `toInputImages` refuses it by its size, so its bytes are of no use.
        this.#kept -= kept;
        chunks = undefined;
      }
    });
    stream.on("end", () => {
      if (chunks) file.bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    });
  }

  #fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#failed();
    // Nothing more is parsed: busboy keeps no timers, so it is simply left to the collector.
    this.#busboy.removeAllListeners("file").removeAllListeners("field");
    this.#busboy.on("error", () => {});
  }
}

function tooManyParts(): InvalidRequestError {
  return new InvalidRequestError(
    `The form has more than ${MAX_FORM_PARTS} parts or ${MAX_FORM_FILES} files; an edit sends a ` +
      "prompt, a few images and a few settings",
    { code: "too_many_parts" },
  );
}

function unreadable(err: unknown): InvalidRequestError {
  return new InvalidRequestError(
    `The form body could not be read: ${err instanceof Error ? err.message : err}`,
    { code: "invalid_multipart" },
  );
}
