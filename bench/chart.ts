/**
 * The bench's figures drawn as `docs/performance.svg`: each measure a bar against its goal (a line
 * across the bar's track), green when the goal is met and red when it is not, so that a reader of
 * `docs/performance.md` sees at a glance what the tables say.
 *
 * `run.ts` draws it at the end of `deno task bench`; alone, `deno run -A bench/chart.ts` draws it
 * from `bench/out/latest.json` as it stands. A part the last run did not measure is left out.
 *
 * @module
 */
import { readLatest } from "./latest.ts";

/** One bar: a measured value against its goal. */
export interface Bar {
  label: string;
  value: number;
  goal: number;
  /** True when smaller is better (memory, bytes, latency). */
  lowerIsBetter: boolean;
  unit: string;
}

/** A titled group of bars sharing one scale. */
export interface Panel {
  title: string;
  bars: Bar[];
}

const MIB = 1024 * 1024;
const WIDTH = 760;
const LABEL_W = 250;
const TRACK_W = 330;
const ROW_H = 26;
const TITLE_H = 34;

// The figures as `run.ts` and `variants.ts` write them; any may be missing after a partial run.
interface Latest {
  startedAt?: string;
  generation?: { delayMs: number; ratio: number; target?: { maxRatio: number } }[];
  serving?: { gateway?: Wrk; nginx?: Wrk };
  underLoad?: { name: string; peakBytes: number; targetBytes: number }[];
  variants?: {
    summary?: { link: string; maxPercentOfPng: number; maxMs1024: number }[];
    isolation?: { peakBytes: number; probes: { path: string; p99: number }[] };
    goals?: { peakRssMaxBytes: number; probeMaxP99Ms: number };
  };
}
interface Wrk {
  wrk: { requestsPerSec: number; latencyMs: { p99: number } };
}

const escape = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

const figure = (n: number) => n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);

/** The panels the figures allow. */
export function panels(latest: Latest): Panel[] {
  const out: Panel[] = [];
  const memory: Bar[] = (latest.underLoad ?? []).map((s) => ({
    label: s.name.startsWith("64") ? "64 downloads + 16 generations" : "150 clients, uncached 7 MB",
    value: s.peakBytes / MIB,
    goal: s.targetBytes / MIB,
    lowerIsBetter: true,
    unit: "MiB",
  }));
  const iso = latest.variants?.isolation;
  const goals = latest.variants?.goals;
  if (iso && goals) {
    memory.push({
      label: "16 image conversions at once",
      value: iso.peakBytes / MIB,
      goal: goals.peakRssMaxBytes / MIB,
      lowerIsBetter: true,
      unit: "MiB",
    });
  }
  if (memory.length) out.push({ title: "Peak memory of the gateway (RSS)", bars: memory });
  const generation: Bar[] = (latest.generation ?? []).flatMap((g) =>
    g.target
      ? [{
        label: g.delayMs > 0 ? `upstream takes ${g.delayMs / 1000} s` : "upstream answers at once",
        value: g.ratio,
        goal: g.target.maxRatio,
        lowerIsBetter: true,
        unit: "×",
      }]
      : []
  );
  if (generation.length) {
    out.push({ title: "A generation's time through the gateway, × direct", bars: generation });
  }
  const gateway = latest.serving?.gateway?.wrk;
  const nginx = latest.serving?.nginx?.wrk;
  if (gateway && nginx) {
    out.push({
      title: "/i/{id} at 32 connections, against nginx from disk",
      bars: [{
        label: "throughput, × nginx",
        value: gateway.requestsPerSec / nginx.requestsPerSec,
        goal: 0.7,
        lowerIsBetter: false,
        unit: "×",
      }, {
        label: "p99 latency, × nginx",
        value: gateway.latencyMs.p99 / nginx.latencyMs.p99,
        goal: 2,
        lowerIsBetter: true,
        unit: "×",
      }],
    });
  }
  const views = latest.variants?.summary ?? [];
  const share = (link: string, goal: number) => {
    const row = views.find((v) => v.link === link);
    return row
      ? [{
        label: `${link}, largest`,
        value: row.maxPercentOfPng,
        goal,
        lowerIsBetter: true,
        unit: "%",
      }]
      : [];
  };
  const bytes = [...share("/i/{id}.webp", 25), ...share("/i/{id}.webp?w=256", 2)];
  if (bytes.length) out.push({ title: "Bytes of a view, % of the PNG", bars: bytes });
  if (iso && goals) {
    out.push({
      title: "p99 while 16 conversions run",
      bars: iso.probes.map((p) => ({
        label: p.path === "/health" ? "/health" : "cached /i/{id}.png",
        value: p.p99,
        goal: goals.probeMaxP99Ms,
        lowerIsBetter: true,
        unit: "ms",
      })),
    });
  }
  return out;
}

/** The panels as one SVG: labels left, bars on a track scaled to the larger of value and goal. */
export function chartSvg(all: Panel[], caption: string): string {
  const parts: string[] = [];
  let y = 40;
  for (const panel of all) {
    parts.push(`<text x="16" y="${y + 18}" class="t">${escape(panel.title)}</text>`);
    y += TITLE_H;
    const scale = Math.max(...panel.bars.flatMap((b) => [b.value, b.goal])) * 1.1;
    for (const bar of panel.bars) {
      const met = bar.lowerIsBetter ? bar.value <= bar.goal : bar.value >= bar.goal;
      const w = Math.max(2, (bar.value / scale) * TRACK_W);
      const goalX = LABEL_W + (bar.goal / scale) * TRACK_W;
      const mark = bar.lowerIsBetter ? "≤" : "≥";
      parts.push(
        `<text x="16" y="${y + 17}">${escape(bar.label)}</text>`,
        `<rect x="${LABEL_W}" y="${y + 4}" width="${TRACK_W}" height="18" class="k"/>`,
        `<rect x="${LABEL_W}" y="${y + 4}" width="${w.toFixed(1)}" height="18" class="${
          met ? "ok" : "no"
        }"/>`,
        `<line x1="${goalX.toFixed(1)}" x2="${goalX.toFixed(1)}" y1="${y}" y2="${
          y + 26
        }" class="g"/>`,
        `<text x="${LABEL_W + TRACK_W + 12}" y="${y + 17}">${figure(bar.value)} ${bar.unit} ` +
          `<tspan class="m">(goal ${mark} ${figure(bar.goal)})</tspan></text>`,
      );
      y += ROW_H;
    }
    y += 12;
  }
  const height = y + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
    `viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="sf-image-gateway benchmark figures">
<style>
text{font:13px system-ui,sans-serif;fill:#1f2328}.t{font-weight:600;font-size:14px}.m{fill:#57606a}
.k{fill:#eaeef2}.ok{fill:#1a7f37}.no{fill:#cf222e}.g{stroke:#1f2328;stroke-width:2}
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="16" y="24" class="t">${escape(caption)}</text>
${parts.join("\n")}
<text x="16" y="${
      height - 12
    }" class="m">Bars: measured. Black line: the goal. Green: met; red: missed.</text>
</svg>
`;
}

/** Draws `docs/performance.svg` (under `root`) from the figures of `bench/out/latest.json`. */
export async function writeChart(root: URL): Promise<string> {
  const latest = await readLatest() as Latest;
  const day = (latest.startedAt ?? new Date().toISOString()).slice(0, 10);
  const path = new URL("docs/performance.svg", root);
  await Deno.writeTextFile(path, chartSvg(panels(latest), `deno task bench, ${day}`));
  return path.pathname;
}

if (import.meta.main) {
  console.log(`chart written to ${await writeChart(new URL("../", import.meta.url))}`);
}
