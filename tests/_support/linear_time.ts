/**
 * Linearity checks for parsers of client text: a parse of 1 MB must take about 1,000 times a parse
 * of 1 KB, not a million times, and finish in well under a second. Times are the best of a few
 * rounds, each repeating the call until it has run long enough to measure, so one slow moment on
 * a busy machine does not fail a linear parser; a quadratic one fails by orders of magnitude.
 *
 * @module
 */
import assert from "node:assert/strict";

/** Sizes compared, in UTF-16 units. */
const SMALL = 1024;
const MIDDLE = 32 * 1024;
const LARGE = 1024 * 1024;

export interface LinearBounds {
  /**
   * Largest accepted ratio of time per call, 1 MB over 1 KB. Linear is about 1,000 (less when a
   * fixed cost dominates the small call); quadratic is about 1,000,000.
   */
  maxRatio?: number;
  /** Largest accepted time for one call on 1 MB, in milliseconds. */
  maxMs?: number;
}

/**
 * The best time per call of `fn`, in milliseconds: three rounds, each repeating `fn` until
 * `roundMs` have passed or `maxCalls` calls were made, whichever comes first.
 */
export function msPerCall(fn: () => unknown, roundMs = 20, maxCalls = 100_000): number {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    let calls = 0;
    let elapsed = 0;
    do {
      fn();
      calls++;
      elapsed = performance.now() - started;
    } while (elapsed < roundMs && calls < maxCalls);
    best = Math.min(best, elapsed / calls);
  }
  return best;
}

/** `text` made flat (one contiguous string), so that no timed call pays for flattening a rope. */
function flat(text: string): string {
  return text.length === 0 ? text : JSON.parse(JSON.stringify(text));
}

/**
 * Asserts that `parse` takes time linear in the length of the texts `make` builds: 32 KB first
 * (a quadratic parser fails there in a fraction of a second instead of running for minutes on
 * 1 MB), then 1 MB against `maxRatio` × the time of 1 KB and against `maxMs`.
 *
 * @param make the hostile text of about `size` UTF-16 units
 */
export function assertLinear(
  label: string,
  parse: (text: string) => unknown,
  make: (size: number) => string,
  { maxRatio = 5000, maxMs = 200 }: LinearBounds = {},
): { smallMs: number; largeMs: number } {
  const [small, middle, large] = [SMALL, MIDDLE, LARGE].map((size) => flat(make(size)));
  const smallMs = msPerCall(() => parse(small));
  // Linear scales by 32 here; quadratic by about 1,000.
  const middleMs = msPerCall(() => parse(middle));
  const middleBound = (maxRatio * MIDDLE) / LARGE;
  assert.ok(
    middleMs < Math.max(middleBound * smallMs, 1),
    `${label}: 32 KB took ${middleMs.toFixed(3)} ms, 1 KB ${smallMs.toFixed(4)} ms: super-linear?`,
  );
  const largeMs = msPerCall(() => parse(large));
  const ratio = largeMs / smallMs;
  assert.ok(
    ratio < maxRatio,
    `${label}: 1 MB took ${largeMs.toFixed(2)} ms, ${Math.round(ratio)}× 1 KB: super-linear?`,
  );
  assert.ok(largeMs < maxMs, `${label}: 1 MB took ${largeMs.toFixed(2)} ms, over ${maxMs} ms`);
  return { smallMs, largeMs };
}
