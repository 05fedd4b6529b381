/**
 * The playground's input images in real Chromium: picked, pasted or dropped, shown as thumbnails
 * with a remove button, no more than the model takes, and sent with the edit.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Page } from "playwright-core";
import { generateIn, playground } from "../_support/browser.ts";
import { tinyPng } from "../_support/images.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const file = (name: string) => ({ name, mimeType: "image/png", buffer: Buffer.from(tinyPng) });

/** Sends the page a paste or a drop of one PNG, as the browser does with a real one. */
async function deliver(page: Page, how: "paste" | "drop") {
  await page.evaluate(
    `(() => {
      const bytes = Uint8Array.from(${JSON.stringify([...tinyPng])});
      const data = new DataTransfer();
      data.items.add(new File([bytes], "${how}.png", { type: "image/png" }));
      const target = "${how}" === "paste" ? document.getElementById("prompt") : document.getElementById("inputs");
      const event = "${how}" === "paste"
        ? new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true })
        : new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true });
      target.dispatchEvent(event);
    })()`,
  );
}

Deno.test(
  "pictures picked, pasted and dropped show as thumbnails that can be removed",
  opts,
  async () => {
    await using pw = await playground();
    const { pg, page, problems } = pw;
    await page.locator("#model").selectOption("Qwen/Qwen-Image-Edit-2509");
    const thumbs = page.locator("#thumbs li");

    await page.locator("#pick").setInputFiles(file("picked.png"));
    await deliver(page, "paste");
    await deliver(page, "drop");
    assert.equal(await thumbs.count(), 3);
    for (let i = 0; i < 3; i++) {
      assert.equal(
        await thumbs.nth(i).locator("img").getAttribute("alt"),
        `Input picture ${i + 1}`,
      );
      assert.match((await thumbs.nth(i).locator("img").getAttribute("src"))!, /^blob:/);
    }
    // A fourth is one too many for this model: said beside the pictures.
    await page.locator("#pick").setInputFiles(file("fourth.png"));
    assert.equal(await thumbs.count(), 3);
    assert.equal(
      await page.locator("#images-error").innerText(),
      "This model takes at most 3 pictures.",
    );

    // Remove the second: the others stay, and focus stays in the list.
    await page.getByRole("button", { name: "Remove picture 2" }).click();
    assert.equal(await thumbs.count(), 2);
    assert.equal(
      await page.evaluate("document.activeElement.getAttribute('aria-label')"),
      "Remove picture 2",
    );
    const box = (await page.getByRole("button", { name: "Remove picture 1" }).boundingBox())!;
    assert.ok(box.width >= 24 && box.height >= 24, "the remove button can be hit");

    // The edit carries both pictures.
    await generateIn(page, "make them one");
    const sent = pg.gw.fake.generationCalls.at(-1)!.body;
    assert.equal(typeof sent.image, "string");
    assert.equal(typeof sent.image2, "string");
    assert.equal(sent.image3, undefined);

    // A model that takes one keeps only the first; a text model shows no pictures at all.
    await page.locator("#model").selectOption("Qwen/Qwen-Image-Edit");
    assert.equal(await thumbs.count(), 1);
    await page.locator("#model").selectOption("Qwen/Qwen-Image");
    assert.equal(await page.locator("#inputs").isVisible(), false);
    assert.deepEqual(problems, []);
  },
);

Deno.test("a file that is not a picture is refused beside the pictures", opts, async () => {
  await using pw = await playground();
  const { page, problems } = pw;
  await page.locator("#model").selectOption("Qwen/Qwen-Image-Edit");
  await page.locator("#pick").setInputFiles({
    name: "notes.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("hello"),
  });
  assert.equal(await page.locator("#thumbs li").count(), 0);
  assert.equal(
    await page.locator("#images-error").innerText(),
    "Only PNG, JPEG and WebP pictures can be used.",
  );
  assert.deepEqual(problems, []);
});

Deno.test("Kolors offers one optional picture and sends it with the generation", opts, async () => {
  await using pw = await playground();
  const { pg, page, problems } = pw;
  await page.locator("#model").selectOption("Kwai-Kolors/Kolors");
  await generateIn(page, "without a picture");
  assert.equal(pg.gw.fake.generationCalls.at(-1)!.body.image, undefined);
  await page.locator("#pick").setInputFiles(file("picked.png"));
  await page.locator("#pick").setInputFiles(file("second.png"));
  assert.equal(await page.locator("#thumbs li").count(), 1);
  assert.equal(
    await page.locator("#images-error").innerText(),
    "This model takes one picture only.",
  );
  await page.locator("#prompt").fill("with a picture");
  await page.locator("#prompt").press("Control+Enter");
  await page.locator("#runs .run", { hasText: "with a picture" }).locator(".thumb img").waitFor();
  assert.equal(typeof pg.gw.fake.generationCalls.at(-1)!.body.image, "string");
  assert.deepEqual(problems, []);
});
