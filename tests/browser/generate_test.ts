/**
 * The playground's Create view in real Chromium: the prompt comes first, the settings offer only
 * what the chosen model takes, Ctrl+Enter generates, placeholders hold the image's aspect ratio
 * with the elapsed time while it is made, Cancel stops it, and the results are grouped with their
 * settings at their own aspect ratio (and brought into view on a phone).
 *
 * @module
 */
import assert from "node:assert/strict";
import { generateIn, imagesLoaded, PHONE, playground, settled } from "../_support/browser.ts";
import { GATEWAY_KEY } from "../_support/gateway.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A model as `GET /v1/models?include=capabilities` lists it. */
interface Model {
  id: string;
  capabilities: {
    kind: string;
    sizes: string[];
    input_images: { min: number; max: number };
    seed: boolean;
    negative_prompt: boolean;
    steps: { min: number; max: number } | null;
    guidance: { min: number; max: number } | null;
  };
}

Deno.test(
  "the prompt comes first and the settings offer only what the model takes",
  opts,
  async () => {
    await using pw = await playground();
    const { pg, page, problems } = pw;

    // The prompt is the first field of the main part, with Generate beside it.
    const first = await page.locator("main :is(input, textarea, select)").first().getAttribute(
      "id",
    );
    assert.equal(first, "prompt");
    const prompt = await page.locator("#prompt").boundingBox();
    const go = await page.locator("#generate").boundingBox();
    assert.ok(prompt && go && go.x > prompt.x + prompt.width - 1, "Generate is beside the prompt");
    assert.ok(Math.abs(go.y - prompt.y) < prompt.height, "Generate is on the prompt's row");

    assert.deepEqual(await page.locator("#model option").allTextContents(), [
      "Kwai-Kolors/Kolors",
      "Qwen/Qwen-Image",
      "Qwen/Qwen-Image-Edit",
      "Qwen/Qwen-Image-Edit-2509",
    ]);
    const sizes = async () =>
      (await page.locator("#size option").evaluateAll((os) =>
        os.map((o) => (o as unknown as { value: string }).value)
      )).filter(Boolean);
    // Kolors: its own sizes from the catalog, and one optional input image.
    await page.locator("#model").selectOption("Kwai-Kolors/Kolors");
    assert.ok((await sizes()).includes("720x1280"));
    assert.ok(!(await sizes()).includes("1328x1328"), "Qwen's size is not offered for Kolors");
    assert.equal(await page.locator("#inputs").isVisible(), true);
    assert.match(await page.locator("#inputs-hint").innerText(), /one picture/);
    // Qwen-Image: another list of sizes.
    await page.locator("#model").selectOption("Qwen/Qwen-Image");
    assert.ok((await sizes()).includes("1328x1328"));
    assert.ok(!(await sizes()).includes("720x1280"));
    assert.equal(await page.locator("#inputs").isVisible(), false);
    // An edit model takes pictures, up to its number; the 2509 takes three.
    await page.locator("#model").selectOption("Qwen/Qwen-Image-Edit");
    assert.equal(await page.locator("#inputs").isVisible(), true);
    assert.match(await page.locator("#inputs-hint").innerText(), /one picture/);
    await page.locator("#model").selectOption("Qwen/Qwen-Image-Edit-2509");
    assert.match(await page.locator("#inputs-hint").innerText(), /up to 3 pictures/);

    // Every model: the controls are exactly what the gateway's catalog says it takes.
    const res = await fetch(`${pg.server.origin}/v1/models?include=capabilities`, {
      headers: { authorization: `Bearer ${GATEWAY_KEY}` },
    });
    for (const { id, capabilities: c } of (await res.json()).data as Model[]) {
      await page.locator("#model").selectOption(id);
      assert.deepEqual(await sizes(), c.sizes, id);
      const shown = async (field: string) => await page.locator(field).isVisible();
      assert.equal(await shown("#seed"), c.seed, `${id} seed`);
      assert.equal(await shown("#negative"), c.negative_prompt, `${id} negative prompt`);
      assert.equal(await shown("#steps"), c.steps !== null, `${id} steps`);
      assert.equal(await shown("#guidance"), c.guidance !== null, `${id} guidance`);
      assert.equal(await shown("#inputs"), c.input_images.max > 0, `${id} input images`);
      if (c.steps) {
        assert.deepEqual(
          [
            await page.locator("#steps").getAttribute("min"),
            await page.locator("#steps").getAttribute("max"),
          ],
          [String(c.steps.min), String(c.steps.max)],
        );
      }
    }
    assert.deepEqual(problems, []);
  },
);

Deno.test(
  "Ctrl+Enter shows placeholders at the size's ratio with the time, then the results grouped",
  opts,
  async () => {
    await using pw = await playground({ gateway: { fake: { delayMs: 1200 } } });
    const { pg, page, problems } = pw;
    await page.locator("#model").selectOption("Kwai-Kolors/Kolors");
    await page.locator("#size").selectOption("720x1280");
    await page.locator("#n").fill("2");
    await page.locator("#seed").fill("42");
    await page.locator("#prompt").fill("a red fox in snow");
    await page.locator("#prompt").press("Control+Enter");

    // While waiting: two placeholders at 9:16, a clock that runs, and Cancel instead of Generate.
    const ph = page.locator("#runs .run .ph");
    await ph.first().waitFor();
    assert.equal(await ph.count(), 2);
    const box = (await ph.first().boundingBox())!;
    assert.ok(Math.abs(box.width / box.height - 720 / 1280) < 0.02, `${box.width}x${box.height}`);
    await page.locator("#runs .run .meta", { hasText: /^0\.[1-9] s$/ }).waitFor();
    assert.equal(await page.locator("#cancel").isVisible(), true);
    assert.equal(await page.locator("#generate").isVisible(), false);
    await page.locator("#runs .run .meta", { hasText: /^0\.[5-9] s$/ }).waitFor();

    // The results: grouped under their prompt and settings, at their own ratio.
    const imgs = page.locator("#runs .run .thumb img");
    await imgs.nth(1).waitFor();
    await imagesLoaded(page, "#runs .thumb img");
    const run = page.locator("#runs .run").first();
    const text = await run.innerText();
    for (const part of ["a red fox in snow", "Kwai-Kolors/Kolors", "720x1280", "seed 42"]) {
      assert.ok(text.includes(part), `the run shows ${part}: ${text}`);
    }
    for (const i of [0, 1]) {
      const img = imgs.nth(i);
      const natural = await img.evaluate((el) => {
        const i = el as unknown as { naturalWidth: number; naturalHeight: number };
        return i.naturalWidth / i.naturalHeight;
      });
      assert.ok(Math.abs(natural - 720 / 1280) < 0.02, `natural ratio ${natural}`);
      const shown = (await img.boundingBox())!;
      assert.ok(Math.abs(shown.width / shown.height - 720 / 1280) < 0.02, "rendered ratio");
    }
    assert.match(await run.innerText(), /[0-9]+\.[0-9] s/);
    assert.match(await page.locator("#status").innerText(), /2 images in [0-9.]+ s\./);
    assert.equal(await page.locator("#generate").isVisible(), true);
    // The request carried the settings.
    const sent = pg.gw.fake.generationCalls.at(-1)!.body;
    assert.equal(sent.image_size, "720x1280");
    assert.equal(sent.batch_size, 2);
    assert.equal(sent.seed, 42);
    assert.deepEqual(problems, []);
  },
);

Deno.test(
  "Cancel stops the run: no result, a plain message, focus back on Generate",
  opts,
  async () => {
    await using pw = await playground({ gateway: { fake: { delayMs: 2000 } } });
    const { page, problems } = pw;
    await page.locator("#prompt").fill("a slow lighthouse");
    await page.locator("#generate").click();
    await page.locator("#runs .ph").first().waitFor();
    await page.locator("#cancel").click();
    await page.locator("#generate").waitFor();
    assert.equal(await page.locator("#runs .run").count(), 0);
    assert.equal(await page.locator("#runs img").count(), 0);
    assert.equal(await page.locator("#status").innerText(), "Cancelled.");
    assert.equal(await page.evaluate("document.activeElement?.id"), "generate");
    assert.equal(await page.locator("#run-error").isVisible(), false);
    assert.deepEqual(problems, []);
  },
);

Deno.test(
  "on a phone the settings fold away and the first result is scrolled into view",
  opts,
  async () => {
    await using pw = await playground({ context: { viewport: PHONE, hasTouch: true } });
    const { page, problems } = pw;
    assert.equal(await page.locator("#settings").getAttribute("open"), null);
    assert.equal(await page.locator("#model").isVisible(), false);
    // A few earlier runs push a new one's results down the page.
    await page.locator("#settings summary").click();
    await page.locator("#size").selectOption("960x1280");
    await generateIn(page, "a tall tower");
    await generateIn(page, "a second tower");
    await page.evaluate("scrollTo(0, 0)");
    await page.locator("#settings").evaluate((
      d,
    ) => ((d as unknown as { open: boolean }).open = true));
    await page.locator("#prompt").fill("a third tower");
    await page.locator("#prompt").press("Control+Enter");
    const first = page.locator("#runs .run").first().locator(".thumb").first();
    await first.waitFor();
    await imagesLoaded(page, "#runs .thumb img");
    await page.waitForTimeout(300);
    const top = (await first.boundingBox())!.y; // relative to the viewport
    const inView = top >= 0 && top < PHONE.height;
    assert.ok(inView, "the first result is in view");
    // Generate pressed (then Cancel had focus): focus moves to the new first result.
    await page.locator("#prompt").fill("a fourth tower");
    await page.locator("#generate").click();
    await page.locator("#runs .run", { hasText: "a fourth tower" }).locator(".thumb img").waitFor();
    const onFirst = "document.activeElement === document.querySelector('#runs .thumb')";
    assert.equal(await settled(page, onFirst, true), true);
    assert.ok(Number(await page.evaluate("scrollY")) > 0, "the page scrolled");
    assert.deepEqual(problems, []);
  },
);
