/**
 * `bench/chart.ts`, which draws `docs/performance.svg`: a bar per figure against its goal, coloured
 * by whether the goal is met (in either direction), text escaped, and parts the bench did not
 * measure left out.
 *
 * @module
 */
import assert from "node:assert/strict";
import { chartSvg, panels } from "../bench/chart.ts";

Deno.test("each bar is green when its goal is met and red when not, in either direction", () => {
  const svg = chartSvg([{
    title: "a <title> & more",
    bars: [
      { label: "small enough", value: 190, goal: 200, lowerIsBetter: true, unit: "MiB" },
      { label: "too big", value: 214, goal: 200, lowerIsBetter: true, unit: "MiB" },
      { label: "fast enough", value: 0.86, goal: 0.7, lowerIsBetter: false, unit: "×" },
    ],
  }], "caption");
  assert.deepEqual([...svg.matchAll(/class="(ok|no)"/g)].map((m) => m[1]), ["ok", "no", "ok"]);
  assert.ok(svg.includes("a &lt;title&gt; &amp; more"));
  assert.ok(svg.includes('214 MiB <tspan class="m">(goal ≤ 200)</tspan>'));
  assert.ok(svg.includes('0.86 × <tspan class="m">(goal ≥ 0.70)</tspan>'));
});

Deno.test("panels come only from the figures a run recorded", () => {
  assert.deepEqual(panels({}), []);
  const only = panels({
    underLoad: [{ name: "150 clients", peakBytes: 280 * 2 ** 20, targetBytes: 300 * 2 ** 20 }],
  });
  assert.deepEqual(only.map((p) => [p.title, p.bars.map((b) => [b.value, b.goal])]), [
    ["Peak memory of the gateway (RSS)", [[280, 300]]],
  ]);
});
