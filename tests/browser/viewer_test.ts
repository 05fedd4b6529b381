/**
 * The playground's large view in real Chromium: a real `<dialog>` with the image's prompt, model,
 * size, seed and time; Copy Markdown and Copy link through the Clipboard API on a secure origin
 * and through a selected, visible field on plain HTTP; Download original, Use as input, Reuse
 * settings (which empties what a gallery image does not keep); a gallery card's own Copy link on
 * plain HTTP; the arrow keys and Escape; and focus back on the result.
 *
 * @module
 */
import assert from "node:assert/strict";
import { generateIn, LAN_HOST, openWithKey, playground, settled } from "../_support/browser.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const LINK = /^http:\/\/[^/]+\/i\/[A-Za-z0-9_-]+\.png$/;

Deno.test(
  "a result opens a dialog with its facts; arrows move, Escape closes, focus returns",
  opts,
  async () => {
    await using pw = await playground();
    const { page, problems } = pw;
    await page.locator("#model").selectOption("Kwai-Kolors/Kolors");
    await page.locator("#size").selectOption("768x1024");
    await page.locator("#n").fill("2");
    await page.locator("#seed").fill("7");
    await generateIn(page, "two paper boats", 2);

    const thumbs = page.locator("#runs .thumb");
    await thumbs.first().click();
    const dialog = page.locator("dialog#viewer");
    assert.equal(await dialog.getAttribute("open"), "");
    assert.equal(await dialog.evaluate((d) => (d as unknown as { open: boolean }).open), true);
    assert.equal(await page.locator("#viewer-prompt").innerText(), "two paper boats");
    const meta = await page.locator("#viewer-meta").innerText();
    for (const part of ["Model", "Kwai-Kolors/Kolors", "Size", "768x1024", "Seed", "7", "Time"]) {
      assert.ok(meta.includes(part), `the dialog shows ${part}: ${meta}`);
    }
    assert.match(meta, /[0-9.]+ s/);
    const first = await page.locator("#viewer-img").getAttribute("src");
    assert.match(first ?? "", LINK);
    assert.equal(await page.locator("#v-download").getAttribute("href"), first);
    assert.equal(await page.locator("#v-download").getAttribute("download"), "");

    await page.keyboard.press("ArrowRight");
    const second = await page.locator("#viewer-img").getAttribute("src");
    assert.notEqual(second, first);
    assert.equal(second, await thumbs.nth(1).locator("img").getAttribute("src"));
    await page.keyboard.press("ArrowLeft");
    assert.equal(await page.locator("#viewer-img").getAttribute("src"), first);
    await page.keyboard.press("ArrowRight");

    await page.keyboard.press("Escape");
    assert.equal(await dialog.getAttribute("open"), null);
    // Focus is on the result last shown.
    const onSecond = "document.activeElement === document.querySelectorAll('#runs .thumb')[1]";
    assert.equal(await settled(page, onSecond, true), true);
    // Enter on the focused result opens it again.
    await page.keyboard.press("Enter");
    assert.equal(await dialog.getAttribute("open"), "");
    assert.equal(await page.locator("#viewer-img").getAttribute("src"), second);
    assert.deepEqual(problems, []);
  },
);

Deno.test(
  "on a secure origin Copy Markdown and Copy link put the text on the clipboard",
  opts,
  async () => {
    await using pw = await playground({ key: false });
    const { pg, context, page, problems } = pw;
    await context.grantPermissions(["clipboard-read", "clipboard-write"], {
      origin: pg.server.origin,
    });
    page.on("dialog", (d) => problems.push(`a ${d.type()} dialog`));
    await openWithKey(page, pg.server.origin);
    await generateIn(page, "a [bracketed] fox");
    await page.locator("#runs .thumb").first().click();
    const url = (await page.locator("#viewer-img").getAttribute("src"))!;

    await page.locator("#v-markdown").click();
    await page.locator("#toast", { hasText: "Markdown copied." }).waitFor();
    assert.equal(
      await page.evaluate("navigator.clipboard.readText()"),
      `![a  bracketed  fox](${url})`,
    );
    await page.locator("#v-link").click();
    await page.locator("#toast", { hasText: "Link copied." }).waitFor();
    assert.equal(await page.evaluate("navigator.clipboard.readText()"), url);
    assert.match(url, LINK);
    assert.equal(await page.locator("#copy-box").isVisible(), false);
    assert.deepEqual(problems, []);
  },
);

Deno.test(
  "on plain HTTP Copy link selects the link in a visible field, with no prompt()",
  opts,
  async () => {
    await using pw = await playground({ key: false });
    const { pg, page, problems } = pw;
    page.on("dialog", (d) => problems.push(`a ${d.type()} dialog`));
    const origin = pg.server.origin.replace("127.0.0.1", LAN_HOST);
    await openWithKey(page, origin);
    assert.equal(await page.evaluate("isSecureContext"), false);
    await generateIn(page, "a lantern");
    await page.locator("#runs .thumb").first().click();
    const url = (await page.locator("#viewer-img").getAttribute("src"))!;
    await page.locator("#v-link").click();
    const field = page.locator("#copy-text");
    await field.waitFor({ state: "visible" });
    assert.equal(await field.inputValue(), url);
    // The whole link is selected, and the field has focus, ready for Ctrl+C.
    assert.deepEqual(
      await page.evaluate(
        "(f => [f.selectionStart, f.selectionEnd, f === document.activeElement])" +
          "(document.getElementById('copy-text'))",
      ),
      [0, url.length, true],
    );
    // The field is inside the dialog, where the person is (the page behind it is inert).
    assert.equal(await page.locator("#viewer #copy-text").count(), 1);

    // A gallery card's own Copy link: the field shows in the gallery, not in a hidden view.
    await page.keyboard.press("Escape");
    await page.locator("#show-gallery").click();
    await page.locator("#gallery .card").first().getByRole("button", { name: /^Copy link/ })
      .click();
    await field.waitFor({ state: "visible" });
    assert.equal(await page.locator("#gallery-view #copy-text").isVisible(), true);
    assert.equal(await field.inputValue(), url);
    assert.equal(await page.evaluate("document.activeElement.id"), "copy-text");
    assert.deepEqual(problems, []);
  },
);

Deno.test(
  "Use as input picks an edit model with the image; Reuse settings brings them back",
  opts,
  async () => {
    await using pw = await playground();
    const { pg, page, problems } = pw;
    await page.locator("#model").selectOption("Kwai-Kolors/Kolors");
    await page.locator("#size").selectOption("960x1280");
    await page.locator("#seed").fill("99");
    await page.locator("#negative").fill("blur");
    await generateIn(page, "a green door");

    // Reuse settings, after the form has changed.
    await page.locator("#model").selectOption("Qwen/Qwen-Image");
    await page.locator("#prompt").fill("something else");
    await page.locator("#runs .thumb").first().click();
    await page.locator("#v-reuse").click();
    assert.equal(await page.locator("#viewer").getAttribute("open"), null);
    assert.equal(await page.locator("#model").inputValue(), "Kwai-Kolors/Kolors");
    assert.equal(await page.locator("#prompt").inputValue(), "a green door");
    assert.equal(await page.locator("#size").inputValue(), "960x1280");
    assert.equal(await page.locator("#seed").inputValue(), "99");
    assert.equal(await page.locator("#negative").inputValue(), "blur");
    assert.equal(await page.evaluate("document.activeElement.id"), "prompt");

    // Use as input: an edit model, the image as its picture, ready for a prompt.
    await page.locator("#runs .thumb").first().click();
    const url = await page.locator("#viewer-img").getAttribute("src");
    await page.locator("#v-input").click();
    assert.equal(await page.locator("#viewer").getAttribute("open"), null);
    assert.match(await page.locator("#model").inputValue(), /^Qwen\/Qwen-Image-Edit/);
    assert.equal(await page.locator("#thumbs img").getAttribute("src"), url);
    assert.equal(await page.evaluate("document.activeElement.id"), "prompt");
    await generateIn(page, "paint it red");
    const sent = pg.gw.fake.generationCalls.at(-1)!.body;
    assert.equal(typeof sent.image, "string");

    // A gallery image keeps no seed or negative prompt: Reuse empties them rather than mixing in
    // the form's last ones.
    await page.locator("#model").selectOption("Kwai-Kolors/Kolors");
    await page.locator("#seed").fill("5");
    await page.locator("#negative").fill("fog");
    await page.locator("#show-gallery").click();
    await page.locator("#gallery .card", { hasText: "a green door" }).locator(".thumb").click();
    await page.locator("#v-reuse").click();
    assert.equal(await page.locator("#prompt").inputValue(), "a green door");
    assert.equal(await page.locator("#size").inputValue(), "960x1280");
    assert.equal(await page.locator("#seed").inputValue(), "");
    assert.equal(await page.locator("#negative").inputValue(), "");
    assert.deepEqual(problems, []);
  },
);
