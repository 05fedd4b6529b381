/**
 * A generation's outcome as the record every answer is made from: the images (ours by id, or the
 * upstream's link when storing failed), the model and size, the rewritten prompt, failed calls.
 * The same record answers the client now, a retry after it left, and a repeated idempotency key.
 *
 * @module
 */
import type { AnswerRecord, RecordedImage } from "../storage/answer_records.ts";
import type { ImageStore } from "../storage/image_store.ts";
import { imageTypeOf } from "../storage/image_type.ts";
import { formatOf, formatOfExt } from "../storage/image_variants.ts";
import { imageLink, linkExtension } from "../storage/links.ts";
import type { Produced } from "./delivery.ts";
import type { GenerationOutcome } from "./generate.ts";
import type { UpstreamPlan } from "./upstream_plan.ts";

/** The record of what a generation made, and the bytes its answer kept. */
export function producedOf(
  outcome: GenerationOutcome,
  plan: UpstreamPlan,
  revisedPrompt: string | undefined,
): Produced {
  const images = outcome.images.map((image): RecordedImage => {
    const base = image.seed === undefined ? {} : { seed: image.seed };
    const served = image.served;
    const q = served?.compression === undefined ? {} : { q: served.compression };
    return image.stored
      ? { ...base, id: image.stored.id, ext: served?.ext ?? linkExtension(image.stored.meta), ...q }
      : { ...base, url: image.upstreamUrl, ...(image.type ? { ext: image.type.ext } : {}) };
  });
  const record: AnswerRecord = {
    images,
    model: plan.model,
    calls: plan.bodies.length,
    failedCalls: outcome.failedCalls.length,
  };
  if (plan.size) record.size = plan.size;
  if (revisedPrompt !== undefined) record.revisedPrompt = revisedPrompt;
  if (outcome.inference !== undefined) record.inference = outcome.inference;
  if (outcome.failedCalls.length > 0) record.failedMessage = outcome.failedCalls[0].message;
  return { record, bytes: outcome.images.map((image) => image.bytes) };
}

/** The link of a recorded image: ours when stored, the upstream's (short-lived) otherwise. */
export function recordedLink(image: RecordedImage, origin: string): string | undefined {
  if (!image.id) return image.url;
  const link = imageLink(origin, image.id, image.ext ?? "png");
  return image.q === undefined ? link : `${link}?q=${image.q}`;
}

/** `kv` when every image is stored, `upstream-fallback` when any answer uses the upstream's link. */
export function storageState(record: AnswerRecord): "kv" | "upstream-fallback" {
  return record.images.every((i) => i.id !== undefined) ? "kv" : "upstream-fallback";
}

/**
 * The bytes of each image, for answers that carry them: those the generation kept, else read
 * from the store (an answer given again); `undefined` for an image that is gone.
 */
export async function recordedBytes(
  produced: Produced,
  images: ImageStore,
): Promise<(Uint8Array | undefined)[]> {
  return await Promise.all(produced.record.images.map(async (image, i) => {
    const kept = produced.bytes?.[i];
    if (kept || !image.id) return kept;
    const meta = await images.getMeta(image.id);
    if (!meta) return undefined;
    // The variant the link names (`output_format`), else the original.
    const format = image.ext === linkExtension(meta) ? undefined : formatOfExt(image.ext);
    if (format === undefined && image.q === undefined) return await images.bytes(image.id, meta);
    const variant = await images.variant(image.id, meta, {
      format: format ?? formatOf(imageTypeOf(meta.type)) ?? "png",
      width: undefined,
      compression: image.q,
    });
    return await images.bytes(variant.id, variant.meta);
  }));
}
