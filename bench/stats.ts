/**
 * Small numeric helpers for the benchmark: sample summaries and human-readable units.
 *
 * @module
 */

/** Median, p90 and friends of a set of latency samples, in milliseconds. */
export interface Summary {
  n: number;
  min: number;
  median: number;
  p90: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (`p` in 0–100) of samples sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Summarises samples; the median of an even count is the mean of the two middle values. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const middle = Math.floor(n / 2);
  const median = n % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return {
    n,
    min: sorted[0],
    median,
    p90: percentile(sorted, 90),
    max: sorted[n - 1],
    mean: sorted.reduce((sum, x) => sum + x, 0) / n,
  };
}

/** Milliseconds with a precision that suits their size. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(0)} ms`;
}

/** Bytes in binary units (KiB, MiB, GiB). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** A ratio such as `1.013×`. */
export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(3)}×` : "n/a";
}

/** `PASS` or `MISS`. */
export function verdict(pass: boolean): "PASS" | "MISS" {
  return pass ? "PASS" : "MISS";
}
