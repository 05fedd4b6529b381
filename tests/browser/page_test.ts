/**
 * The playground as a whole in real Chromium: what a first visit downloads (HTML, CSS and
 * JavaScript under 60 KB uncompressed, all from the gateway itself), and the README's screenshot
 * (`docs/playground.png`: a desktop in light mode with four images made), written by this test.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DESKTOP, generateIn, imagesLoaded, playground } from "../_support/browser.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const SCREENSHOT = new URL("../../docs/playground.png", import.meta.url);

Deno.test(
  "a first visit loads under 60 KB of HTML, CSS and JavaScript, all from here",
  opts,
  async () => {
    await using pw = await playground({ key: false });
    const { pg, page, problems } = pw;
    const loaded: { url: string; bytes: number }[] = [];
    const elsewhere: string[] = [];
    page.on("request", (r) => !r.url().startsWith(pg.server.origin) && elsewhere.push(r.url()));
    page.on("response", async (r) => {
      const type = r.headers()["content-type"] ?? "";
      if (/text\/(html|css|javascript)/.test(type)) {
        loaded.push({ url: new URL(r.url()).pathname, bytes: (await r.body()).byteLength });
      }
    });
    await page.goto(`${pg.server.origin}/`, { waitUntil: "networkidle" });
    const paths = loaded.map((l) => l.url).sort();
    assert.ok(paths.includes("/") && paths.includes("/web/app.css"), paths.join(" "));
    assert.ok(paths.includes("/web/app.js") && paths.includes("/web/strings.js"), paths.join(" "));
    const total = loaded.reduce((sum, l) => sum + l.bytes, 0);
    console.log(`page weight: ${(total / 1024).toFixed(1)} KB in ${loaded.length} files`);
    assert.ok(total < 60 * 1024, `${total} bytes`);
    assert.ok(elsewhere.every((u) => u.startsWith("data:")), elsewhere.join(" "));
    assert.deepEqual(problems, []);
  },
);

Deno.test("the README's screenshot: a desktop in light mode with four images", opts, async () => {
  await using pw = await playground({
    gateway: { fake: { delayMs: 200 } },
    context: { viewport: DESKTOP, colorScheme: "light" },
  });
  const { page, problems } = pw;
  await page.locator("#model").selectOption("Kwai-Kolors/Kolors");
  await page.locator("#size").selectOption("1024x1024");
  await page.locator("#n").fill("1");
  await generateIn(page, "a lighthouse on a cliff at dusk, soft light");
  await page.locator("#size").selectOption("768x1024");
  await page.locator("#n").fill("4");
  await page.locator("#seed").fill("42");
  await generateIn(page, "a red fox in fresh snow, morning mist, watercolour", 4);
  await imagesLoaded(page, "#runs .thumb img");
  await page.locator("#prompt").fill("a paper boat on a quiet lake");
  await page.locator("#prompt").blur();
  await page.evaluate("scrollTo(0, 0)");
  const png = await page.screenshot({ type: "png" });
  assert.ok(png.byteLength < 300 * 1024, `${png.byteLength} bytes`);
  await Deno.writeFile(SCREENSHOT, png);
  console.log(`${fileURLToPath(SCREENSHOT)}: ${(png.byteLength / 1024).toFixed(0)} KB`);
  assert.deepEqual(problems, []);
});
