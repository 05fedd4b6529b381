/**
 * The variants bench's figures (`variants.ts`): the goals, the summaries of the measured
 * rows and the PASS/MISS lines printed for them.
 *
 * @module
 */
import type { ProcessMemory } from "./proc.ts";
import { formatBytes, formatMs, percentile, summarize, verdict } from "./stats.ts";
import { type IsolationRun, type View, VIEWS } from "./variants_gateway.ts";

const MB = 1024 * 1024;

/** The goals (issue 16, "Measured, in deno task bench"). */
export const VARIANT_GOALS = {
  webpMaxPercentOfPng: 25,
  thumbMaxPercentOfPng: 2,
  minSsim: 0.97,
  webp1024MaxMs: 1000,
  probeMaxP99Ms: 300,
  peakRssMaxBytes: 400 * MB,
};

/** One view of one image, measured. */
export interface ViewRow {
  image: string;
  side: number;
  view: View["name"];
  status: number;
  contentType: string | null;
  bytes: number;
  pngBytes: number;
  percentOfPng: number;
  ssim: number;
  firstGetMs: number;
  msPerMegapixel: number;
}

export const print = (line = "") => console.log(line);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => summarize(xs).median;

/** Per view: bytes against the PNG, SSIM and first-GET time, over every photograph. */
export function summarizeViews(rows: ViewRow[]) {
  return VIEWS.map(({ name, tail }) => {
    const mine = rows.filter((r) => r.view === name);
    const ms = (side: number) => mine.filter((r) => r.side === side).map((r) => r.firstGetMs);
    return {
      view: name,
      link: `/i/{id}${tail}`,
      failures: mine.filter((r) => r.status !== 200).length,
      meanPercentOfPng: mean(mine.map((r) => r.percentOfPng)),
      maxPercentOfPng: Math.max(...mine.map((r) => r.percentOfPng)),
      meanSsim: mean(mine.map((r) => r.ssim)),
      minSsim: Math.min(...mine.map((r) => r.ssim)),
      medianMsPerMegapixel: median(mine.map((r) => r.msPerMegapixel)),
      medianMs1024: median(ms(1024)),
      medianMs1328: median(ms(1328)),
      maxMs1024: Math.max(...ms(1024)),
    };
  });
}

type ViewSummary = ReturnType<typeof summarizeViews>[number];

function goalLine(label: string, value: string, goal: string, pass: boolean) {
  print(`     ${label.padEnd(40)}${value.padStart(11)}   goal ${goal.padEnd(11)} ${verdict(pass)}`);
}

/** Parts 1–3's table and verdicts; returns the verdicts. */
export function printViews(
  summary: ViewSummary[],
  rows: ViewRow[],
  first: { coldMs: number; idle?: ProcessMemory; end?: ProcessMemory },
) {
  const g = VARIANT_GOALS;
  const pngMean = mean(rows.filter((r) => r.view === "webp").map((r) => r.pngBytes));
  print(
    `   ${rows.length / VIEWS.length} photographs (1024 and 1328 px PNGs, mean ` +
      `${formatBytes(pngMean)}); first GET of each view, one at a time, VARIANT_WORKERS=1, warm`,
  );
  const heads = ["% of PNG", "max %", "SSIM", "min SSIM", "ms/MP", "1024 px", "1328 px"];
  print(`     ${"".padEnd(20)}${heads.map((h) => h.padStart(10)).join("")}`);
  for (const s of summary) {
    const cells = [
      s.meanPercentOfPng.toFixed(2),
      s.maxPercentOfPng.toFixed(2),
      s.meanSsim.toFixed(4),
      s.minSsim.toFixed(4),
      s.medianMsPerMegapixel.toFixed(0),
      formatMs(s.medianMs1024),
      formatMs(s.medianMs1328),
    ];
    print(`     ${s.link.padEnd(20)}${cells.map((c) => c.padStart(10)).join("")}`);
    if (s.failures > 0) print(`     warning: ${s.failures} first GETs of ${s.link} failed`);
  }
  print("     (means over the photographs; ms/MP and times: medians of the first GETs)");
  const by = (name: View["name"]) => summary.find((s) => s.view === name)!;
  const webp = by("webp");
  const thumb = by("webp256");
  const webpPass = webp.maxPercentOfPng <= g.webpMaxPercentOfPng && webp.failures === 0;
  const thumbPass = thumb.maxPercentOfPng <= g.thumbMaxPercentOfPng && thumb.failures === 0;
  const percent = (x: number) => `${x.toFixed(2)} %`;
  goalLine("WebP bytes, largest % of PNG", percent(webp.maxPercentOfPng), "≤ 25 %", webpPass);
  goalLine(
    "256 px WebP bytes, largest % of PNG",
    percent(thumb.maxPercentOfPng),
    "≤ 2 %",
    thumbPass,
  );
  const ssimPass: Record<string, boolean> = {};
  for (const s of summary) {
    ssimPass[s.view] = s.minSsim >= g.minSsim && s.failures === 0;
    goalLine(`SSIM ${s.link}, lowest`, s.minSsim.toFixed(4), `≥ ${g.minSsim}`, ssimPass[s.view]);
  }
  const speedPass = webp.maxMs1024 <= g.webp1024MaxMs;
  const coldPass = first.coldMs <= g.webp1024MaxMs;
  goalLine("1024 px WebP first GET, slowest", formatMs(webp.maxMs1024), "≤ 1000 ms", speedPass);
  goalLine("the same, a fresh gateway's first", formatMs(first.coldMs), "≤ 1000 ms", coldPass);
  print("       (a fresh gateway's first conversion also starts the worker, compiles the codecs)");
  if (first.idle && first.end) {
    print(
      `     one worker: RSS ${formatBytes(first.idle.vmRSS)} before the first conversion, ` +
        `peak ${formatBytes(first.end.vmHWM)} after them all (informational)`,
    );
  }
  return { webpPass, thumbPass, ssimPass, speedPass, coldPass };
}

/** Part 4's figures and verdicts. */
export function summarizeIsolation(run: IsolationRun) {
  const probes = run.probes.map((p) => {
    const s = summarize(p.ms);
    const p99 = percentile([...p.ms].sort((a, b) => a - b), 99);
    return { path: p.path, n: s.n, median: s.median, p99, max: s.max, failures: p.failures };
  });
  const failures = run.conversions.filter((c) => c.status !== 200).length;
  const peakBytes = run.peak?.vmHWM ?? NaN;
  const g = VARIANT_GOALS;
  return {
    conversions: run.conversions.length,
    conversionFailures: failures,
    conversionStatuses: run.conversions.map((c) => c.status),
    conversionMs: summarize(run.conversions.map((c) => c.ms)),
    durationMs: run.durationMs,
    workers: run.workers,
    queue: run.queue,
    probes,
    idleRssBytes: run.idle?.vmRSS ?? NaN,
    peakBytes,
    peakAnonBytes: run.peakAnonBytes,
    probePass: probes.map((p) => p.p99 < g.probeMaxP99Ms && p.failures === 0),
    rssPass: peakBytes <= g.peakRssMaxBytes && failures === 0,
  };
}

/** Part 4's lines. */
export function printIsolation(r: ReturnType<typeof summarizeIsolation>) {
  print(
    `   ${r.conversions} conversions of 1328 px images at once (4 of each view), ` +
      `workers ${r.workers}, VARIANT_QUEUE=${r.queue}:`,
  );
  print(
    `   all answered in ${formatMs(r.durationMs)} (median ${formatMs(r.conversionMs.median)} ` +
      `each), ${r.conversionFailures} failed`,
  );
  for (const [i, p] of r.probes.entries()) {
    const label = p.path.startsWith("/i/") ? "cached /i/{id}.png p99" : `${p.path} p99`;
    goalLine(label, formatMs(p.p99), `< ${VARIANT_GOALS.probeMaxP99Ms} ms`, r.probePass[i]);
    print(
      `       (${p.n} requests, median ${formatMs(p.median)}, max ${formatMs(p.max)}, ` +
        `${p.failures} failed)`,
    );
  }
  goalLine("gateway peak RSS (VmHWM)", formatBytes(r.peakBytes), "≤ 400 MiB", r.rssPass);
  print(
    `       (RSS before the conversions ${formatBytes(r.idleRssBytes)}; sampled anonymous ` +
      `peak ${formatBytes(r.peakAnonBytes)})`,
  );
}
