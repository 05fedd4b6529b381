/**
 * What a variant of a stored image may be, shared by the links that ask for one
 * (`routes/image_files.ts`), the store that keeps it (`storage/image_variants.ts`) and the pool that
 * makes it (`variants/`): its formats, and the fixed set of widths a link's `?w=` snaps to.
 *
 * @module
 */

/** The formats a variant is served in. */
export type VariantFormat = "png" | "jpeg" | "webp" | "avif";

/**
 * The widths `?w=` may give, so that a link cannot multiply variants without end: 4 formats × 10
 * widths (these and the original's) are at most 40 variants per image, each cacheable by many
 * clients. An image is never enlarged: a width past the original's makes the original's.
 */
export const VARIANT_WIDTHS = [64, 128, 256, 384, 512, 768, 1024, 1536, 2048] as const;

/** The smallest width of {@link VARIANT_WIDTHS} at least `width`, or the largest. */
export function snapWidth(width: number): number {
  return VARIANT_WIDTHS.find((w) => w >= width) ?? VARIANT_WIDTHS.at(-1)!;
}
