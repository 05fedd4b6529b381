/**
 * `bench/out/latest.json`: the last bench's figures, which `run.ts` writes whole, `variants.ts`
 * alone updates under `variants`, and `chart.ts` draws. Numbers are rounded to three decimals.
 *
 * @module
 */

const DIR = new URL("./out/", import.meta.url);
const FILE = new URL("latest.json", DIR);

/** The recorded figures, or an empty object before any bench ran. */
export async function readLatest(): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(FILE).catch(() => "{}"));
}

/** Writes the figures (rounded) and answers the file's path. */
export async function writeLatest(report: Record<string, unknown>): Promise<string> {
  await Deno.mkdir(DIR, { recursive: true });
  const rounded = (_: string, v: unknown) =>
    typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v;
  await Deno.writeTextFile(FILE, JSON.stringify(report, rounded, 2) + "\n");
  return FILE.pathname;
}
