/**
 * What the gateway knows about each SiliconFlow image model. For now: which models take
 * `batch_size` (several images in one call) — the rest get parallel calls instead.
 *
 * Source: SiliconFlow's "Image generations" reference (`siliconflow-api.md` §2): `batch_size` is
 * documented for Kwai-Kolors/Kolors only; the legacy Stable Diffusion schemas also had it.
 *
 * @module
 */

/** SiliconFlow's documented `batch_size` range is 1–4. */
export const MAX_BATCH_SIZE = 4;

const BATCH_MODELS = [/^Kwai-Kolors\/Kolors$/i, /^stabilityai\/stable-diffusion/i];

/** Whether one upstream call can return several images of this model. */
export function supportsBatch(model: string): boolean {
  return BATCH_MODELS.some((pattern) => pattern.test(model));
}
