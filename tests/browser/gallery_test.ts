/**
 * The playground's gallery in real Chromium: small WebP copies with a `srcset`, more pages as the
 * end of the grid comes into view, and Delete that takes the card away with an Undo: Undo puts it
 * back with no DELETE sent; without it the DELETE goes out after the delay and the link answers
 * 404; a card deleted at the end of a page is deleted before the next page is asked for.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GATEWAY_KEY } from "../_support/gateway.ts";
import {
  DESKTOP,
  imagesLoaded,
  launch,
  newPage,
  openWithKey,
  PHONE,
  playgroundGateway,
} from "../_support/browser.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
/** More than one page of the gallery (24). */
const MADE = 28;

async function gatewayWithImages() {
  const pg = await playgroundGateway();
  for (let i = 0; i < MADE / 4; i++) {
    const res = await pg.gw.post("/v1/images/generations", {
      model: "Kwai-Kolors/Kolors",
      prompt: `a lighthouse, take ${i}`,
      n: 4,
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.body?.cancel();
  }
  return pg;
}

/**
 * The gallery of {@link gatewayWithImages} open with the page's clock under the test's control, the
 * DELETEs it sends recorded (paths), and the card at `at` deleted: its id. On a phone the first
 * page fills the screen, so no second page is loaded before the test asks for it.
 */
async function deletedCard(at: number, viewport = DESKTOP) {
  const pg = await gatewayWithImages();
  const browser = await launch();
  const { page, problems } = await newPage(browser, { viewport });
  const deletes: string[] = [];
  page.on("request", (r) => r.method() === "DELETE" && deletes.push(new URL(r.url()).pathname));
  await page.clock.install();
  await openWithKey(page, pg.server.origin);
  await page.locator("#show-gallery").click();
  const cards = page.locator("#gallery .card");
  await cards.nth(23).waitFor();
  const id = (await cards.nth(at).getAttribute("data-id"))!;
  // Without scrolling to the card: the grid's end coming into view would load the next page.
  await cards.nth(at).getByRole("button", { name: /^Delete/ }).dispatchEvent("click");
  return {
    pg,
    page,
    problems,
    cards,
    deletes,
    id,
    async [Symbol.asyncDispose]() {
      await browser.close();
      await pg[Symbol.asyncDispose]();
    },
  };
}

Deno.test(
  "the gallery shows WebP copies with a srcset and loads more as it scrolls",
  opts,
  async () => {
    await using pg = await gatewayWithImages();
    await using browser = await launch();
    const { page, problems } = await newPage(browser);
    await openWithKey(page, pg.server.origin);
    await page.locator("#show-gallery").click();
    const cards = page.locator("#gallery .card");
    await cards.nth(23).waitFor();
    await imagesLoaded(page, "#gallery .card img");
    const img = cards.first().locator("img");
    const src = (await img.getAttribute("src"))!;
    assert.match(src, /\/i\/[A-Za-z0-9_-]+\.webp\?w=256$/);
    const srcset = (await img.getAttribute("srcset"))!;
    assert.match(srcset, /\.webp\?w=256 256w, .*\.webp\?w=512 512w$/);
    assert.equal(await img.getAttribute("loading"), "lazy");
    // The whole picture, not a square crop of it.
    const fit = "getComputedStyle(document.querySelector('#gallery .card img')).objectFit";
    assert.equal(await page.evaluate(fit), "contain");
    // The browser chose one of the copies and it is a real picture.
    const shown = await img.evaluate((el) => (el as unknown as { currentSrc: string }).currentSrc);
    assert.match(shown, /\.webp\?w=(256|512)$/);
    // The newest first.
    assert.match(await cards.first().innerText(), /take 6/);
    const before = await cards.count();
    assert.ok(before >= 24 && before < MADE, `one page first (${before})`);
    await page.locator("#more").scrollIntoViewIfNeeded();
    await cards.nth(MADE - 1).waitFor();
    assert.equal(await cards.count(), MADE);
    await page.locator("#gallery-status", { hasText: `${MADE} images shown.` }).waitFor();
    assert.deepEqual(problems, []);
  },
);

Deno.test(
  "Delete takes the card away with Undo; Undo puts it back and sends nothing",
  opts,
  async () => {
    await using deleted = await deletedCard(1);
    const { pg, page, problems, cards, deletes, id } = deleted;
    assert.equal(await page.locator(`#gallery .card[data-id="${id}"]`).count(), 0);
    const undo = page.locator("#toast").getByRole("button", { name: "Undo" });
    assert.match(await page.locator("#toast").innerText(), /^Image deleted\.\s*Undo$/);
    assert.equal(await page.evaluate("document.activeElement.textContent"), "Undo");
    await page.clock.runFor(3000);
    await undo.click();
    // Back in its place, focused, and nothing was sent.
    assert.equal(await cards.nth(1).getAttribute("data-id"), id);
    assert.equal(await page.evaluate("document.activeElement.closest('.card').dataset.id"), id);
    await page.clock.runFor(10_000);
    assert.deepEqual(deletes, []);
    assert.equal(await page.locator("#toast").isVisible(), false);
    const res = await fetch(`${pg.server.origin}/i/${id}.png`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.deepEqual(problems, []);
  },
);

Deno.test(
  "without Undo the DELETE is sent after the delay and the link answers 404",
  opts,
  async () => {
    await using deleted = await deletedCard(0);
    const { pg, page, problems, cards, deletes, id } = deleted;
    await page.clock.runFor(3000);
    assert.deepEqual(deletes, [], "not before the Undo has gone");
    const sent = page.waitForResponse((r) => r.request().method() === "DELETE");
    await page.clock.runFor(4000);
    assert.equal((await sent).status(), 200);
    assert.deepEqual(deletes, [`/v1/images/${id}`]);
    assert.equal(await page.locator("#toast").isVisible(), false);
    assert.equal(await page.locator(`#gallery .card[data-id="${id}"]`).count(), 0);
    // Focus went to the card now in its place, not to the page's top.
    assert.equal(
      await page.evaluate("document.activeElement.closest('.card')?.dataset.id"),
      await cards.first().getAttribute("data-id"),
    );
    const res = await fetch(`${pg.server.origin}/i/${id}.png`);
    assert.equal(res.status, 404);
    await res.body?.cancel();
    // The gallery agrees after a reload.
    const list = await fetch(`${pg.server.origin}/v1/images?limit=100`, {
      headers: { authorization: `Bearer ${GATEWAY_KEY}` },
    });
    const ids = (await list.json()).data.map((d: { id: string }) => d.id);
    assert.equal(ids.length, MADE - 1);
    assert.ok(!ids.includes(id));
    assert.deepEqual(problems, []);
  },
);

Deno.test(
  "a card deleted at the end of a page does not come back with the next page",
  opts,
  async () => {
    await using deleted = await deletedCard(23, PHONE);
    const { pg, page, problems, cards, id } = deleted;
    await page.locator("#more").dispatchEvent("click");
    await page.locator("#gallery-status", { hasText: `${MADE - 1} images shown.` }).waitFor();
    const ids = await cards.evaluateAll((cs) => cs.map((c) => c.getAttribute("data-id")));
    assert.equal(ids.length, MADE - 1);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(!ids.includes(id), "the deleted card is not back");
    // Its DELETE went out before the next page was asked for.
    const res = await fetch(`${pg.server.origin}/i/${id}.png`);
    assert.equal(res.status, 404);
    await res.body?.cancel();
    // The deleted card's own (lazy) picture may still be asked for once it is gone: a 404.
    assert.deepEqual(problems.filter((p) => !/status of 404/.test(p)), []);
  },
);
