/**
 * The playground in a real browser, for `tests/browser/`: Debian's Chromium, headless, driven by
 * `playwright-core` (through `executablePath`; nothing is downloaded), a gateway over a real
 * socket whose fake SiliconFlow draws smooth gradients at the asked size's aspect ratio, axe-core
 * for WCAG 2.1 AA, and the small page-side checks the tests share.
 *
 * @module
 */
import assert from "node:assert/strict";
import axe from "axe-core";
import { type Browser, chromium, type Page } from "playwright-core";
import { GATEWAY_KEY, type GatewayOptions, listen, startGateway } from "./gateway.ts";
import { codecs } from "../../lib/variants/codecs.ts";
import { gradientPixels } from "./gradient.ts";

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
/** A name that is not loopback to Chromium: a page there is not a secure context (plain HTTP). */
export const LAN_HOST = "playground.lan";

export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

/** Chromium, closed with the test; `playground.lan` resolves to 127.0.0.1. */
export async function launch(): Promise<Browser & AsyncDisposable> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // As root in CI, and with nothing reaching out to Google's hosts from a closed network.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--host-resolver-rules=MAP ${LAN_HOST} 127.0.0.1`,
    ],
    timeout: 30_000,
  });
  return Object.assign(browser, { [Symbol.asyncDispose]: () => browser.close() });
}

/** Kolors' sizes (and a square default) drawn at a quarter of their size: the ratio is what shows. */
const SIZES = ["1024x1024", "960x1280", "768x1024", "720x1440", "720x1280"];
/** Colourings of the gradient (its channels in another order), so that results differ. */
const TINTS = [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]];

async function picture(w: number, h: number, tint: number[]): Promise<Uint8Array> {
  const plain = gradientPixels(w, h);
  const data = new Uint8ClampedArray(plain.data.length);
  for (let i = 0; i < data.length; i += 4) {
    for (let c = 0; c < 3; c++) data[i + c] = plain.data[i + tint[c]];
    data[i + 3] = 255;
  }
  return new Uint8Array(await (await codecs()).encodePng({ data, width: w, height: h }));
}

/**
 * A gateway on a real socket whose fake draws each image as a gradient at the ratio of the size
 * the last call asked for, in one of four colourings by turn. `origin` is http://127.0.0.1:port.
 */
export async function playgroundGateway(options: GatewayOptions = {}) {
  const pictures = new Map<string, Uint8Array>();
  for (const size of SIZES) {
    const [w, h] = size.split("x").map(Number);
    for (const [i, tint] of TINTS.entries()) {
      pictures.set(`${size}#${i}`, await picture(w / 4, h / 4, tint));
    }
  }
  const ref: { gw?: Awaited<ReturnType<typeof startGateway>> } = {};
  const gw = await startGateway({
    ...options,
    fake: {
      image: (index) => {
        const asked = String(ref.gw?.fake.generationCalls.at(-1)?.body.image_size ?? "");
        const tint = index % TINTS.length;
        return pictures.get(`${asked}#${tint}`) ?? pictures.get(`1024x1024#${tint}`)!;
      },
      ...options.fake,
    },
  });
  ref.gw = gw;
  const server = listen(gw);
  return {
    gw,
    server,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await gw[Symbol.asyncDispose]();
    },
  };
}

/** A new page in its own context (viewport, locale, color scheme), with {@link watch} on. */
export async function newPage(
  browser: Browser,
  options: Parameters<Browser["newContext"]>[0] = {},
) {
  const context = await browser.newContext({ viewport: DESKTOP, ...options });
  const page = await context.newPage();
  return { context, page, problems: watch(page) };
}

/** What {@link playground} sets up: a gateway and its fake, Chromium, and a page. */
export interface PlaygroundOptions {
  gateway?: GatewayOptions;
  context?: Parameters<Browser["newContext"]>[0];
  /** Open the playground with this key (the gateway's by default), or `false` to leave it closed. */
  key?: string | false;
}

/**
 * One test's whole setup: {@link playgroundGateway}, Chromium and a {@link newPage}, the playground
 * opened with the key unless told not to; all closed with the test (`await using`).
 */
export async function playground({ gateway, context, key }: PlaygroundOptions = {}) {
  const pg = await playgroundGateway(gateway);
  const browser = await launch();
  const opened = await newPage(browser, context);
  if (key !== false) await openWithKey(opened.page, pg.server.origin, key);
  return {
    pg,
    browser,
    ...opened,
    async [Symbol.asyncDispose]() {
      await browser.close();
      await pg[Symbol.asyncDispose]();
    },
  };
}

/** Fills the prompt and generates with Ctrl+Enter; waits until `n` results are shown. */
export async function generateIn(page: Page, prompt: string, n = 1) {
  await page.locator("#prompt").fill(prompt);
  await page.locator("#prompt").press("Control+Enter");
  await page.locator("#runs .run").first().locator(".thumb img").nth(n - 1).waitFor();
  await imagesLoaded(page, "#runs .thumb img");
}

/**
 * The value of a page-side `expression` once it is `want`, or its last value after 3 s: for focus,
 * which a `<dialog>` moves in a task of its own after it closes.
 */
export async function settled(page: Page, expression: string, want: unknown): Promise<unknown> {
  let value: unknown;
  for (const end = Date.now() + 3000; Date.now() < end;) {
    value = await page.evaluate(expression);
    if (value === want) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return value;
}

/** Errors the page logged or threw, for a test to assert there were none. */
export function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(err.message));
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.setDefaultTimeout(15_000);
  return problems;
}

/** Opens the playground and enters the key; waits for the model list. */
export async function openWithKey(page: Page, origin: string, key = GATEWAY_KEY) {
  await page.goto(`${origin}/`);
  await page.locator("#key").fill(key);
  await page.locator("#key").press("Tab");
  if (key === GATEWAY_KEY) {
    await page.locator("#model option[value='Kwai-Kolors/Kolors']").waitFor({ state: "attached" });
  }
}

/** Runs axe-core (WCAG 2.0/2.1 A and AA) in the page; the serious and critical violations. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated over the DevTools protocol: the page's CSP (script-src 'self') refuses a script tag.
  if (!(await page.evaluate(() => "axe" in globalThis))) await page.evaluate(axe.source);
  const found = await page.evaluate(async () => {
    const run = (globalThis as unknown as {
      axe: {
        run(
          ctx: unknown,
          opts: unknown,
        ): Promise<
          { violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }
        >;
      };
    }).axe.run;
    const result = await run({ exclude: [] }, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
  return found.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.targets.slice(0, 5).join(", ")}`);
}

/** Waits until every image in `selector` has loaded with real pixels. */
export async function imagesLoaded(page: Page, selector: string) {
  await page.waitForFunction((sel) => {
    const { document } = globalThis as unknown as {
      document: { querySelectorAll(s: string): { complete: boolean; naturalWidth: number }[] };
    };
    const images = [...document.querySelectorAll(sel)];
    return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0);
  }, selector);
}

/** The page's visible text, to check that no address or transport error reached it. */
export async function visibleText(page: Page): Promise<string> {
  return await page.locator("body").innerText();
}

export function assertNoInternals(text: string) {
  assert.doesNotMatch(text, /127\.0\.0\.1|error sending request|tcp connect|os error|Connect\)/);
}
