/**
 * Problems the server reports, in real Chromium: an error about a setting opens the folded
 * settings on a phone and takes focus there, in the page's own words (never the server's English)
 * with the request id; a model list that cannot be loaded offers no stale model and holds
 * Generate back until it loads; the gallery's problems sit beside their cause and keep their
 * words across a switch of language. The server's failures are answered by `page.route`.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page, Route } from "playwright-core";
import { STRINGS } from "../../lib/web/strings.js";
import { generateIn, PHONE, playground, visibleText } from "../_support/browser.ts";
import { GATEWAY_KEY } from "../_support/gateway.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const EN: Record<string, string> = STRINGS.en;
const ZH: Record<string, string> = STRINGS["zh-CN"];
/** What the gateway says when SiliconFlow refuses a value: English, and the page must not show it. */
const SERVER_WORDS = "SiliconFlow rejected the request. SiliconFlow said: Seed must be below";

/** Answers with an OpenAI-shaped error and the request id `rid`. */
function failWith(status: number, error: Record<string, unknown>, rid: string) {
  return (route: Route) =>
    route.fulfill({
      status,
      headers: { "content-type": "application/json", "x-request-id": rid },
      body: JSON.stringify({ error: { type: "invalid_request_error", code: null, ...error } }),
    });
}

const focused = (page: Page) => page.evaluate("document.activeElement?.id");
const settingsOpen = (page: Page) =>
  page.locator("#settings").evaluate((d) => "open" in d && d.open);

Deno.test(
  "on a phone a server error about a setting opens the settings and focuses it, in own words",
  opts,
  async () => {
    await using pw = await playground({ context: { viewport: PHONE, hasTouch: true } });
    const { pg, page, problems } = pw;
    await page.route(
      "**/v1/images/generations",
      failWith(400, { message: `${SERVER_WORDS} 9999999999`, param: "seed" }, "rid-1"),
    );
    assert.equal(await settingsOpen(page), false);
    await page.locator("#prompt").fill("a fox");
    await page.locator("#prompt").press("Control+Enter");
    const error = page.locator("#seed-error");
    await error.waitFor();
    assert.equal(await settingsOpen(page), true);
    assert.equal(await focused(page), "seed");
    assert.equal(await error.innerText(), `${EN["err.value"]} Request id: rid-1`);
    assert.doesNotMatch(await visibleText(page), /SiliconFlow said/);
    await page.locator("#lang").selectOption("zh-CN");
    assert.equal(await error.innerText(), `${ZH["err.value"]} 请求编号：rid-1`);
    await page.locator("#lang").selectOption("en");

    // The same for a picture the server refused: beside the pictures, the picker focused.
    await page.unrouteAll();
    await page.route(
      "**/v1/images/generations",
      failWith(400, { message: "image could not be read", param: "image" }, "rid-2"),
    );
    await page.locator("#settings").evaluate((d) => "open" in d && (d.open = false));
    await page.locator("#prompt").press("Control+Enter");
    await page.locator("#images-error").waitFor();
    assert.equal(await settingsOpen(page), true);
    assert.equal(await focused(page), "pick");
    assert.equal(
      await page.locator("#images-error").innerText(),
      `${EN["err.value"]} Request id: rid-2`,
    );
    assert.equal(pg.gw.fake.generationCalls.length, 0);
    assert.deepEqual(problems.filter((p) => !/status of 400/.test(p)), []);
  },
);

Deno.test(
  "on a phone a seed out of range opens the settings and names both ends of the range",
  opts,
  async () => {
    await using pw = await playground({ context: { viewport: PHONE, hasTouch: true } });
    const { pg, page, problems } = pw;
    await page.locator("#seed").evaluate((s) => "value" in s && (s.value = "99999999999"));
    await page.locator("#prompt").fill("a fox");
    await page.locator("#prompt").press("Control+Enter");
    const error = page.locator("#seed-error");
    await error.waitFor();
    assert.equal(await error.innerText(), "Use a number from 0 to 9999999999.");
    assert.equal(await settingsOpen(page), true);
    assert.equal(await focused(page), "seed");
    assert.equal(pg.gw.fake.generationCalls.length, 0);
    assert.deepEqual(problems, []);
  },
);

Deno.test(
  "models that cannot be loaded: said beside Generate, none offered, Generate waits for them",
  opts,
  async () => {
    await using pw = await playground({ context: { viewport: PHONE, hasTouch: true } });
    const { pg, page, problems } = pw;
    // The list was loaded once; now SiliconFlow is down and the key is entered again.
    await page.route(
      (url: URL) => url.pathname === "/v1/models",
      failWith(
        503,
        { type: "upstream_error", message: "down", code: "upstream_unavailable" },
        "rid-m",
      ),
    );
    await page.locator("#key").fill(`${GATEWAY_KEY} `);
    await page.locator("#key").press("Tab");
    const runError = page.locator("#run-error");
    await runError.waitFor();
    assert.equal(await runError.innerText(), `${EN["err.down"]} Request id: rid-m`);
    assert.deepEqual(await page.locator("#model option").allTextContents(), [EN["model.failed"]]);

    // Generate sends nothing, and says why beside the (now opened) model list.
    await page.locator("#prompt").fill("a fox");
    await page.locator("#prompt").press("Control+Enter");
    await page.locator("#model-error").waitFor();
    assert.equal(await page.locator("#model-error").innerText(), EN["err.no_models"]);
    assert.equal(await settingsOpen(page), true);
    assert.equal(await focused(page), "model");
    assert.equal(pg.gw.fake.generationCalls.length, 0);

    // Back up: the next Generate loads the list and makes the image.
    await page.unrouteAll();
    await generateIn(page, "a fox");
    assert.equal(await page.locator("#model").inputValue(), "Kwai-Kolors/Kolors");
    assert.equal(await runError.isVisible(), false);
    assert.equal(pg.gw.fake.generationCalls.length, 1);
    assert.deepEqual(problems.filter((p) => !/status of 503/.test(p)), []);
  },
);

Deno.test(
  "gallery problems: a refused key beside the key, others above the grid, across languages",
  opts,
  async () => {
    await using pw = await playground();
    const { pg, page, problems } = pw;
    const res = await pg.gw.post("/v1/images/generations", {
      model: "Kwai-Kolors/Kolors",
      prompt: "a",
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await page.locator("#show-gallery").click();
    await page.locator("#gallery-status", { hasText: "1 image shown." }).waitFor();

    const listing = (url: URL) => url.pathname === "/v1/images";
    const again = async () => {
      await page.locator("#show-generate").click();
      await page.locator("#show-gallery").click();
    };
    await page.route(listing, failWith(503, { type: "upstream_error", message: "x" }, "rid-g"));
    await again();
    const error = page.locator("#listing-error");
    await error.waitFor();
    assert.equal(await error.innerText(), `${EN["err.down"]} Request id: rid-g`);
    await page.locator("#lang").selectOption("zh-CN");
    assert.equal(await error.innerText(), `${ZH["err.down"]} 请求编号：rid-g`);
    // No stale count of the cards no longer shown.
    assert.equal(await page.locator("#gallery-status").innerText(), "");

    await page.unrouteAll();
    await page.route(listing, failWith(401, { message: "bad key" }, "rid-k"));
    await again();
    await page.locator("#key-error").waitFor();
    assert.equal(await page.locator("#key-error").innerText(), `${ZH["err.key"]} 请求编号：rid-k`);
    assert.equal(await error.isVisible(), false);
    assert.deepEqual(problems.filter((p) => !/status of (401|503)/.test(p)), []);
  },
);
