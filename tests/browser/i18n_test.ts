/**
 * The playground's languages in real Chromium: a browser set to Chinese gets the page in
 * Simplified Chinese with no English word of the interface left (checked against the English
 * table of `lib/web/strings.js`, and for words written into the page's code: no ASCII word that no
 * Chinese string has), and the switch changes the language and keeps it across a reload.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { STRINGS } from "../../lib/web/strings.js";
import { generateIn, playground, visibleText } from "../_support/browser.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const EN: Record<string, string> = STRINGS.en;
const ZH: Record<string, string> = STRINGS["zh-CN"];

/** The English strings of the interface shown on `page` (those without values to fill in). */
async function englishLeft(page: Page): Promise<string[]> {
  const text = await visibleText(page);
  return Object.entries(EN)
    .filter(([key, en]) => !en.includes("{") && en !== ZH[key] && en.length > 2)
    .map(([, en]) => en)
    .filter((en) => text.includes(en));
}

/**
 * ASCII words on a Chinese page that no Chinese string has (such as "seed" or "s" written into the
 * code), leaving out model ids and sizes, which are data.
 */
async function asciiLeft(page: Page): Promise<string[]> {
  const text = (await visibleText(page)).replace(/[\w.-]+\/[\w.-]+|\d+x\d+|rid-\S+/g, " ");
  const known = new Set(Object.values(ZH).join(" ").match(/[A-Za-z]+/g));
  known.add("English");
  return [...new Set(text.match(/[A-Za-z]+/g))].filter((word) => !known.has(word));
}

Deno.test("every string has a Chinese translation", () => {
  assert.deepEqual(Object.keys(EN).filter((k) => !(k in ZH)), []);
  assert.deepEqual(Object.keys(ZH).filter((k) => !(k in EN)), []);
});

Deno.test(
  "a browser in Chinese gets the page in Simplified Chinese, no English left",
  opts,
  async () => {
    await using pw = await playground({
      context: { locale: "zh-CN" },
      gateway: { fake: { delayMs: 600 } },
    });
    const { page, problems } = pw;
    assert.equal(await page.locator("html").getAttribute("lang"), "zh-CN");
    assert.equal(await page.title(), ZH.title);
    assert.equal(await page.locator("#generate").innerText(), "生成");
    assert.equal(await page.locator("label[for=prompt]").innerText(), "提示词");
    assert.equal(await page.locator("#settings summary").innerText(), "设置");
    assert.equal(await page.locator("#show-gallery").innerText(), "图库");
    assert.equal(await page.locator("label[for=key]").innerText(), "API 密钥");
    assert.equal(await page.locator("#lang").inputValue(), "zh-CN");
    assert.deepEqual(await englishLeft(page), []);

    await page.locator("#model").selectOption("Kwai-Kolors/Kolors");
    await page.locator("#n").fill("2");
    await page.locator("#seed").fill("42");
    await page.locator("#prompt").fill("一只红色的狐狸");
    await page.locator("#prompt").press("Control+Enter");
    // The clock while it is made.
    await page.locator("#runs .run .meta", { hasText: /^0\.[1-9] 秒$/ }).waitFor();
    assert.deepEqual(await asciiLeft(page), []);
    await generateIn(page, "一只红色的狐狸", 2);
    assert.match(await page.locator("#status").innerText(), /^2 张图片，用时 [0-9.]+ 秒。$/);
    assert.match(await page.locator("#runs .run").first().innerText(), /种子 42/);
    assert.deepEqual(await englishLeft(page), []);
    assert.deepEqual(await asciiLeft(page), []);
    await page.locator("#runs .thumb").first().click();
    assert.equal(await page.locator("#v-markdown").innerText(), ZH["copy.markdown"]);
    assert.match(
      await page.locator("#runs .thumb").first().getAttribute("aria-label") ?? "",
      /^打开/,
    );
    assert.deepEqual(await englishLeft(page), []);
    await page.keyboard.press("Escape");
    await page.locator("#show-gallery").click();
    await page.locator("#gallery .card").first().waitFor();
    assert.deepEqual(await englishLeft(page), []);
    assert.deepEqual(await asciiLeft(page), []);
    assert.deepEqual(problems, []);
  },
);

Deno.test("the language switch re-words the page and is kept across a reload", opts, async () => {
  await using pw = await playground({ context: { locale: "en-US" } });
  const { page, problems } = pw;
  await page.locator("#prompt").fill("");
  await page.locator("#generate").click(); // an error, worded again by the switch
  assert.equal(await page.locator("#prompt-error").innerText(), EN["err.no_prompt"]);
  assert.equal(await page.locator("#generate").innerText(), "Generate");

  await page.locator("#lang").selectOption("zh-CN");
  assert.equal(await page.locator("#generate").innerText(), "生成");
  assert.equal(await page.locator("#prompt-error").innerText(), ZH["err.no_prompt"]);
  assert.equal(await page.locator("#key-hint").innerText(), ZH["key.hint.pool"]);
  assert.equal(await page.locator("html").getAttribute("lang"), "zh-CN");
  assert.deepEqual(await englishLeft(page), []);

  await page.reload();
  await page.locator("#model option[value='Kwai-Kolors/Kolors']").waitFor({ state: "attached" });
  assert.equal(await page.locator("#generate").innerText(), "生成");
  assert.equal(await page.locator("#lang").inputValue(), "zh-CN");
  assert.equal(await page.evaluate("localStorage.getItem('sf-image-gateway.lang')"), "zh-CN");

  // A gallery image's date is in the page's language, not the browser's (en-US says AM or PM).
  await generateIn(page, "一座灯塔");
  await page.locator("#show-gallery").click();
  await page.locator("#gallery .thumb").first().click();
  const made = page.locator("#viewer-meta dd").last();
  assert.match(await made.innerText(), /^\d{4}\/\d{1,2}\/\d{1,2} /);
  assert.deepEqual(await asciiLeft(page), []);
  await page.keyboard.press("Escape");

  await page.locator("#lang").selectOption("en");
  assert.equal(await page.locator("#generate").innerText(), "Generate");
  assert.equal(await page.locator("label[for=prompt]").innerText(), "Prompt");
  assert.deepEqual(problems, []);
});
