/**
 * The playground's words in real Chromium: every problem a person meets (no key, a wrong key, an
 * edit model without a picture, SiliconFlow unreachable or out of balance) shows beside what
 * caused it, in plain words with the request id when the gateway answered, never an internal
 * address or transport error, and goes away once fixed. The key's hint follows the gateway's mode.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  assertNoInternals,
  generateIn,
  launch,
  newPage,
  openWithKey,
  playground,
  playgroundGateway,
  visibleText,
} from "../_support/browser.ts";
import { GATEWAY_KEY } from "../_support/gateway.ts";
import { tinyPng } from "../_support/images.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "no key and a wrong key are said beside the key field, and go once it is right",
  opts,
  async () => {
    await using pw = await playground({ key: false });
    const { pg, page } = pw;
    await page.goto(`${pg.server.origin}/`);
    const keyError = page.locator("#key-error");
    await page.locator("#prompt").fill("a fox");
    await page.locator("#prompt").press("Control+Enter");
    assert.equal(await keyError.innerText(), "Enter your API key first.");
    assert.equal(await page.locator("#key").getAttribute("aria-invalid"), "true");
    assert.equal(await page.evaluate("document.activeElement.id"), "key");
    assert.equal(pg.gw.fake.generationCalls.length, 0);

    // A wrong key: the models cannot be listed; the words say so, with the request id.
    const answer = page.waitForResponse((r) => r.url().includes("/v1/models"));
    await page.locator("#key").fill("not-the-key");
    await page.locator("#key").press("Tab");
    const id = (await answer).headers()["x-request-id"];
    await keyError.waitFor();
    assert.equal(
      await keyError.innerText(),
      `This key was not accepted. Check it and paste it again. Request id: ${id}`,
    );
    // Typing fixes it: the words go, and the right key lists the models.
    await openWithKey(page, pg.server.origin);
    assert.equal(await keyError.isVisible(), false);
    assert.equal(await page.locator("#key").getAttribute("aria-invalid"), null);
    assertNoInternals(await visibleText(page));
  },
);

Deno.test(
  "an edit model without a picture is said beside the pictures and goes when one is added",
  opts,
  async () => {
    await using pw = await playground();
    const { pg, page, problems } = pw;
    await page.locator("#model").selectOption("Qwen/Qwen-Image-Edit");
    await page.locator("#prompt").fill("make it blue");
    await page.locator("#generate").click();
    const error = page.locator("#images-error");
    assert.equal(await error.innerText(), "This model changes a picture: add one first.");
    assert.ok(
      await page.locator("#inputs").evaluate((f, e) => f.contains(e), await error.elementHandle()),
    );
    assert.equal(await page.evaluate("document.activeElement.id"), "pick");
    assert.equal(pg.gw.fake.generationCalls.length, 0);
    await page.locator("#pick").setInputFiles({
      name: "a.png",
      mimeType: "image/png",
      buffer: Buffer.from(tinyPng),
    });
    assert.equal(await error.isVisible(), false);
    assert.deepEqual(problems, []);
  },
);

Deno.test(
  "SiliconFlow unreachable: plain words with the request id, no address; gone when back",
  opts,
  async () => {
    const down = { now: true };
    await using pg = await playgroundGateway({
      fetch: (input, init) => {
        if (
          down.now && String(input instanceof Request ? input.url : input).includes("/v1/images")
        ) {
          return Promise.reject(
            new TypeError(
              "error sending request for url (http://127.0.0.1:9/v1/images/generations): client " +
                "error (Connect): tcp connect error: Connection refused (os error 111)",
            ),
          );
        }
        return fetch(input, init);
      },
    });
    await using browser = await launch();
    const { page } = await newPage(browser);
    await openWithKey(page, pg.server.origin);
    await page.locator("#prompt").fill("a harbour at dawn");
    const answer = page.waitForResponse((r) => r.url().includes("/v1/images/generations"));
    await page.locator("#generate").click();
    const res = await answer;
    const error = page.locator("#run-error");
    await error.waitFor();
    const words = await error.innerText();
    assert.ok(words.startsWith("SiliconFlow could not be reached just now."), words);
    assert.ok(words.endsWith(`Request id: ${res.headers()["x-request-id"]}`), words);
    assert.equal(await page.locator("#status").innerText(), "No image was made.");
    assert.equal(await page.locator("#runs .run").count(), 0);
    const text = await visibleText(page);
    assertNoInternals(text);
    assert.doesNotMatch(text, /tcp|error sending request/i);

    down.now = false;
    await generateIn(page, "a harbour at dawn");
    assert.equal(await error.isVisible(), false);
  },
);

Deno.test(
  "out of balance: plain words with the request id; gone on the next good run",
  opts,
  async () => {
    // Pass-through: the person's own SiliconFlow account, topped up between the two runs (a pool
    // would rest its only key for an hour).
    await using pg = await playgroundGateway({
      env: { SILICONFLOW_API_KEYS: "", GATEWAY_API_KEYS: "" },
    });
    await using browser = await launch();
    const { page } = await newPage(browser);
    await openWithKey(page, pg.server.origin, "sk-upstream-1");
    await page.locator("#model option[value='Kwai-Kolors/Kolors']").waitFor({ state: "attached" });
    // SiliconFlow's answer on images when the account is empty.
    pg.gw.fake.failNext({
      status: 403,
      body: { code: 30001, message: "Sorry, your account balance is insufficient", data: null },
    });
    await page.locator("#prompt").fill("a mountain");
    const answer = page.waitForResponse((r) => r.url().includes("/v1/images/generations"));
    await page.locator("#prompt").press("Control+Enter");
    const res = await answer;
    const error = page.locator("#run-error");
    await error.waitFor();
    const words = await error.innerText();
    assert.ok(
      words.startsWith("The SiliconFlow account has run out of balance. Top it up, or ask the"),
      words,
    );
    assert.ok(words.endsWith(`Request id: ${res.headers()["x-request-id"]}`), words);
    assertNoInternals(await visibleText(page));
    await generateIn(page, "a mountain");
    assert.equal(await error.isVisible(), false);
  },
);

Deno.test(
  "the key's hint asks for the operator's key in pool mode, a SiliconFlow key otherwise",
  opts,
  async () => {
    await using pool = await playgroundGateway();
    await using pass = await playgroundGateway({
      env: { SILICONFLOW_API_KEYS: "", GATEWAY_API_KEYS: "" },
    });
    await using browser = await launch();
    const { page } = await newPage(browser);
    await page.goto(`${pool.server.origin}/`);
    await page.locator("#key-hint", { hasText: /\S/ }).waitFor();
    assert.equal(
      await page.locator("#key-hint").innerText(),
      "Paste the key the operator of this gateway gave you. It stays in this browser.",
    );
    await page.goto(`${pass.server.origin}/`);
    await page.locator("#key-hint", { hasText: /\S/ }).waitFor();
    assert.equal(
      await page.locator("#key-hint").innerText(),
      "Paste your SiliconFlow API key (sk-…). It stays in this browser.",
    );
    // In pass-through mode a SiliconFlow key lists the models.
    await page.locator("#key").fill("sk-upstream-1");
    await page.locator("#key").press("Tab");
    await page.locator("#model option[value='Kwai-Kolors/Kolors']").waitFor({ state: "attached" });
    assert.notEqual(GATEWAY_KEY, "sk-upstream-1");
  },
);
