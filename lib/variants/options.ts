/**
 * The quality each format is encoded at ({@link qualityFor}). Plain values, without the codecs, so
 * that the HTTP side can choose a variant without loading any WebAssembly; the formats and widths
 * are in `lib/variant_kinds.ts`.
 *
 * @module
 */
import type { VariantFormat } from "../variant_kinds.ts";

/**
 * Default qualities. WebP 80 and JPEG 85 are the issue's; AVIF 55 gives the same fidelity as WebP
 * 80 on the bench's photographs (mean SSIM 0.9962 both, at 1.42 % of the PNG's bytes against
 * 2.83 %: `bench/codecs.ts`, docs/performance.md "Image variants: the codecs").
 */
export const DEFAULT_QUALITY = { webp: 80, avif: 55, jpeg: 85 } as const;

/**
 * The codec quality for a format, from OpenAI's `output_compression` (0–100, where OpenAI's own
 * images are smaller as it goes down): WebP and JPEG take it as their quality; AVIF takes it
 * shifted by the gap between the defaults (so the same number asks for about the same fidelity
 * as WebP), clamped to 0–100; PNG is lossless and takes none (100). Without it, the defaults.
 */
export function qualityFor(format: VariantFormat, outputCompression?: number): number {
  if (format === "png") return 100;
  if (outputCompression === undefined) return DEFAULT_QUALITY[format];
  const asked = Math.max(0, Math.min(100, Math.round(outputCompression)));
  if (format === "avif") {
    return Math.max(0, Math.min(100, asked + DEFAULT_QUALITY.avif - DEFAULT_QUALITY.webp));
  }
  return asked;
}
