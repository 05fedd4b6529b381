/**
 * The web playground in a real browser: Debian's Chromium, headless, driven by `playwright-core`
 * (through `executablePath`; nothing is downloaded). The page is loaded from the gateway over a
 * real socket, generates against the fake SiliconFlow with its progress shown, renders the image,
 * and the gallery lists it and deletes it, after which its link answers 404. Run with
 * `deno task test:browser` (`.ci/run` installs Chromium with apt-get first).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Browser, chromium } from "playwright-core";
import { GATEWAY_KEY, listen, startGateway } from "../_support/gateway.ts";

/** What the page-side functions below read of the DOM. */
interface PageDocument {
  querySelector(selector: string): { complete: boolean; naturalWidth: number } | null;
  documentElement: { scrollWidth: number };
}

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

async function launch(): Promise<Browser & AsyncDisposable> {
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
    ],
    timeout: 30_000,
  });
  return Object.assign(browser, { [Symbol.asyncDispose]: () => browser.close() });
}

Deno.test({
  name: "the playground generates with progress, renders the image, and its gallery deletes it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using gw = await startGateway({ fake: { delayMs: 600 } });
    await using server = listen(gw);
    await using browser = await launch();
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on("pageerror", (err) => problems.push(err.message));
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));

    await page.goto(`${server.origin}/`);
    await page.getByLabel("API key", { exact: true }).fill(GATEWAY_KEY);
    await page.getByLabel("API key", { exact: true }).press("Tab");
    // The model list comes from /v1/models.
    const model = page.getByLabel("Model", { exact: true });
    await model.locator("option").first().waitFor({ state: "attached" });
    assert.deepEqual(
      await model.locator("option").allTextContents(),
      [
        "Kwai-Kolors/Kolors",
        "Qwen/Qwen-Image",
        "Qwen/Qwen-Image-Edit",
        "Qwen/Qwen-Image-Edit-2509",
      ],
    );
    // Every control has its label; input images show for edit models only.
    for (const label of ["Prompt", "Size", "Number of images", "Seed", "Negative prompt"]) {
      assert.equal(await page.getByLabel(label, { exact: true }).count(), 1, label);
    }
    assert.equal(await page.getByLabel("Input image 1", { exact: true }).isVisible(), false);
    await model.selectOption("Qwen/Qwen-Image-Edit");
    assert.equal(await page.getByLabel("Input image 1", { exact: true }).isVisible(), true);
    await model.selectOption("Kwai-Kolors/Kolors");

    await page.getByLabel("Prompt", { exact: true }).fill("a red fox in snow");
    await page.getByLabel("Size", { exact: true }).selectOption("720x1280");
    await page.getByLabel("Seed", { exact: true }).fill("42");
    await page.getByRole("button", { name: "Generate" }).click();
    // Progress with the elapsed time while SiliconFlow works, then the image, rendered.
    await page.getByRole("status").filter({ hasText: "Generating…" }).waitFor();
    await page.locator("#elapsed", { hasText: /^\d+\.\d s$/ }).waitFor();
    const image = page.locator("#results figure img");
    await image.waitFor();
    // Functions, not strings, run in the page: the page's CSP forbids eval. Typed by hand, as the
    // test's own type check has no DOM types.
    await page.waitForFunction(() => {
      const { document } = globalThis as unknown as { document: PageDocument };
      const img = document.querySelector("#results figure img");
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    assert.match(await page.locator("#status").textContent() ?? "", /^1 image in \d+\.\d s$/);
    const url = await image.getAttribute("src") ?? "";
    assert.match(url, new RegExp(`^${server.origin}/i/[\\w-]{16}\\.png$`));
    assert.equal(await page.getByRole("link", { name: "Download" }).getAttribute("href"), url);
    assert.equal(
      await page.getByRole("button", { name: "Copy link of a red fox in snow" }).count(),
      1,
    );
    assert.equal(
      await page.getByRole("button", { name: "Copy Markdown of a red fox in snow" }).count(),
      1,
    );
    const sent = gw.fake.generationCalls[0].body;
    assert.equal(sent.image_size, "720x1280");
    assert.equal(sent.seed, 42);
    // A phone screen: nothing wider than the viewport.
    const fits = await page.evaluate(() => {
      const { document, innerWidth } = globalThis as unknown as {
        document: PageDocument;
        innerWidth: number;
      };
      return document.documentElement.scrollWidth <= innerWidth;
    });
    assert.equal(fits, true);

    await page.getByRole("button", { name: "Gallery" }).click();
    const item = page.locator("#gallery figure");
    await item.waitFor();
    assert.equal(await item.locator("figcaption").textContent(), "a red fox in snow");
    assert.match(
      await item.locator(".meta").textContent() ?? "",
      /^Kwai-Kolors\/Kolors · 720x1280 · /,
    );
    await page.getByRole("button", { name: "Delete a red fox in snow" }).click();
    await page.getByText("Deleted.").waitFor();
    assert.equal(await item.count(), 0);
    const gone = await fetch(url);
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
    // The key stays in this browser only.
    assert.equal(
      await page.evaluate(() => localStorage.getItem("sf-image-gateway.key")),
      GATEWAY_KEY,
    );
    assert.deepEqual(problems, []);
  },
});
