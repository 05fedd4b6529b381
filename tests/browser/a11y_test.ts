/**
 * The playground for everyone, in real Chromium: no serious or critical axe-core violation (WCAG
 * 2.0/2.1 A and AA) in light and dark, on a desktop and a phone, empty, with results, with the
 * large view open and in the gallery; the whole flow by keyboard alone; and touch targets of at
 * least 44 px on a phone.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  axeViolations,
  DESKTOP,
  generateIn,
  launch,
  newPage,
  openWithKey,
  PHONE,
  playground,
  playgroundGateway,
  settled,
} from "../_support/browser.ts";
import { GATEWAY_KEY } from "../_support/gateway.ts";
import { tinyPng } from "../_support/images.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

for (const colorScheme of ["light", "dark"] as const) {
  for (const [device, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
    Deno.test(`axe finds nothing serious in ${colorScheme} on a ${device}`, opts, async () => {
      await using pg = await playgroundGateway();
      await using browser = await launch();
      const { page, problems } = await newPage(browser, {
        viewport,
        colorScheme,
        hasTouch: device === "phone",
      });
      await page.goto(`${pg.server.origin}/`);
      const found: string[] = [];
      const check = async (what: string) =>
        found.push(...(await axeViolations(page)).map((v) => `${what}: ${v}`));
      await check("empty");
      await openWithKey(page, pg.server.origin);
      await page.locator("#settings").evaluate((
        d,
      ) => ((d as unknown as { open: boolean }).open = true));
      await page.locator("#model").selectOption("Qwen/Qwen-Image-Edit-2509");
      await page.locator("#prompt").fill("x");
      await page.locator("#generate").click(); // an error beside the pictures
      await check("errors");
      await page.locator("#model").selectOption("Kwai-Kolors/Kolors");
      await page.locator("#n").fill("2");
      await generateIn(page, "a quiet bay", 2);
      await check("results");
      await page.locator("#runs .thumb").first().click();
      await check("dialog");
      await page.keyboard.press("Escape");
      await page.locator("#show-gallery").click();
      await page.locator("#gallery .card").first().waitFor();
      await page.locator("#gallery .card").first().getByRole("button", { name: /^Delete/ }).click();
      await check("gallery");
      assert.deepEqual(found, []);
      assert.deepEqual(problems, []);
    });
  }
}

Deno.test(
  "the keyboard alone reaches the prompt, generates, and opens a result",
  opts,
  async () => {
    await using pw = await playground({ key: false });
    const { pg, page, problems } = pw;
    await page.goto(`${pg.server.origin}/`);
    const focused = () => page.evaluate("document.activeElement.id");
    // The key first, then the prompt: Tab order follows the page.
    for (let i = 0; i < 12 && (await focused()) !== "key"; i++) await page.keyboard.press("Tab");
    assert.equal(await focused(), "key");
    await page.keyboard.type(GATEWAY_KEY);
    for (let i = 0; i < 12 && (await focused()) !== "prompt"; i++) await page.keyboard.press("Tab");
    assert.equal(await focused(), "prompt");
    await page.locator("#model option[value='Kwai-Kolors/Kolors']").waitFor({ state: "attached" });
    await page.keyboard.type("a lighthouse by keyboard");
    // Ctrl+Enter in the prompt: focus stays there, for another go.
    await page.keyboard.press("Control+Enter");
    await page.locator("#runs .thumb").first().waitFor();
    assert.equal(await focused(), "prompt");
    // Tab to Generate and press Enter: focus moves (by way of Cancel) to the new first result.
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "generate");
    await page.keyboard.press("Enter");
    await page.locator("#runs .run").nth(1).waitFor();
    const onFirst = "document.activeElement === document.querySelector('#runs .thumb')";
    assert.equal(await settled(page, onFirst, true), true);
    await page.keyboard.press("Enter");
    assert.equal(await page.locator("#viewer").getAttribute("open"), "");
    // Inside the dialog the focus is on one of its controls.
    assert.equal(await page.evaluate("!!document.activeElement.closest('#viewer')"), true);
    await page.keyboard.press("Escape");
    assert.equal(await settled(page, "document.activeElement.className", "thumb"), "thumb");
    assert.deepEqual(problems, []);
  },
);

Deno.test("every visible control is at least 44 px tall and wide on a phone", opts, async () => {
  await using pw = await playground({ context: { viewport: PHONE, hasTouch: true } });
  const { page, problems } = pw;
  await page.locator("#settings summary").click();
  await page.locator("#model").selectOption("Qwen/Qwen-Image-Edit-2509");
  await page.locator("#model").selectOption("Kwai-Kolors/Kolors");
  await generateIn(page, "a small boat");
  const small = async (what: string) => {
    const found: string[] = [];
    const controls = page.locator(
      "button, a[href], input:not(.sr-only), select, textarea, summary, label.btn",
    );
    for (let i = 0; i < (await controls.count()); i++) {
      const c = controls.nth(i);
      if (!(await c.isVisible())) continue;
      const box = await c.boundingBox();
      if (box && (box.width < 44 || box.height < 44)) {
        const name = await c.evaluate((el) =>
          (el as unknown as { id: string; tagName: string; textContent: string }).id ||
          `${(el as unknown as { tagName: string }).tagName} ${el.textContent?.trim().slice(0, 30)}`
        );
        found.push(`${what}: ${name} ${Math.round(box.width)}x${Math.round(box.height)}`);
      }
    }
    return found;
  };
  const found = await small("create");
  await page.locator("#model").selectOption("Qwen/Qwen-Image-Edit-2509");
  await page.locator("#pick").setInputFiles({
    name: "a.png",
    mimeType: "image/png",
    buffer: Buffer.from(tinyPng),
  });
  await page.locator("#thumbs button").waitFor();
  found.push(...(await small("pictures")));
  await page.locator("#model").selectOption("Kwai-Kolors/Kolors");
  await page.locator("#runs .thumb").first().click();
  found.push(...(await small("dialog")));
  await page.keyboard.press("Escape");
  await page.locator("#show-gallery").click();
  await page.locator("#gallery .card").first().waitFor();
  found.push(...(await small("gallery")));
  assert.deepEqual(found, []);
  assert.deepEqual(problems, []);
});
