/**
 * `chooseModel()` and its helpers: which model serves a request to each endpoint, the default
 * edit model, and the input-image count rule. Through the app, `model_fitting_test.ts` and the
 * route tests pin the same rules with their messages.
 *
 * @module
 */
import assert from "node:assert/strict";
import { modelInfo } from "../../lib/generation/model_catalog.ts";
import {
  checkInputImages,
  chooseModel,
  defaultEditModel,
  resolveModel,
} from "../../lib/generation/model_choice.ts";

const EDIT = "Qwen/Qwen-Image-Edit";
const EDIT_2509 = "Qwen/Qwen-Image-Edit-2509";
const KOLORS = "Kwai-Kolors/Kolors";

Deno.test("defaultEditModel picks by image count unless the configured default is an edit model that fits", () => {
  assert.equal(defaultEditModel(1, "Kwai-Kolors/Kolors"), EDIT);
  assert.equal(defaultEditModel(2, "Kwai-Kolors/Kolors"), EDIT_2509);
  assert.equal(defaultEditModel(3, EDIT), EDIT_2509);
  assert.equal(defaultEditModel(1, EDIT_2509), EDIT_2509);
  assert.equal(defaultEditModel(0, "Kwai-Kolors/Kolors"), EDIT);
});

Deno.test("checkInputImages accepts what each model takes for an edit", () => {
  checkInputImages(modelInfo(EDIT), 1, "edits");
  checkInputImages(modelInfo(EDIT_2509), 3, "edits");
  checkInputImages(modelInfo("Kwai-Kolors/Kolors"), 1, "edits");
});

const OPTIONS = {
  aliases: { "dall-e-3": "Qwen/Qwen-Image", "my-edit": EDIT_2509 },
  defaultModel: KOLORS,
};

Deno.test("chooseModel() for generations: the default, aliases in any case, OpenAI ids replaced", () => {
  const choose = (model: string | undefined) => {
    const { info, substituted } = chooseModel(model, "generations", OPTIONS);
    return [info.id, substituted];
  };
  assert.deepEqual(choose(undefined), [KOLORS, false]);
  assert.deepEqual(choose("DALL-E-3"), ["Qwen/Qwen-Image", false]);
  assert.deepEqual(choose("gpt-image-1"), [KOLORS, true]);
  assert.deepEqual(choose("dall-e-2"), [KOLORS, true]);
  // Catalog ids come back in their canonical spelling; unknown ids pass as they are.
  assert.deepEqual(choose("kwai-kolors/kolors"), [KOLORS, false]);
  assert.deepEqual(choose("vendor/new-model"), ["vendor/new-model", false]);
});

Deno.test("chooseModel() for edits: an edit model by image count, and never a model without inputs", () => {
  const choose = (model: string | undefined, inputImages: number) => {
    const { info, substituted } = chooseModel(model, "edits", { ...OPTIONS, inputImages });
    return [info.id, substituted];
  };
  assert.deepEqual(choose(undefined, 1), [EDIT, false]);
  assert.deepEqual(choose(undefined, 2), [EDIT_2509, false]);
  assert.deepEqual(choose("gpt-image-1", 1), [EDIT, true]);
  assert.deepEqual(choose("dall-e-3", 3), [EDIT_2509, true]); // alias of a text-to-image model
  assert.deepEqual(choose("Qwen/Qwen-Image", 1), [EDIT, true]);
  assert.deepEqual(choose("my-edit", 1), [EDIT_2509, false]);
  assert.deepEqual(choose(KOLORS, 1), [KOLORS, false]); // Kolors takes one input image
});

Deno.test("chooseModel() for chat resolves aliases and keeps any other id as the app sent it", () => {
  const choose = (model: string) => {
    const { info, substituted } = chooseModel(model, "chat", OPTIONS);
    return [info.id, substituted];
  };
  assert.deepEqual(choose("Dall-E-3"), ["Qwen/Qwen-Image", false]);
  assert.deepEqual(choose("gpt-image-1"), ["gpt-image-1", false]);
  assert.deepEqual(choose("qwen/qwen-image-edit"), [EDIT, false]);
});

Deno.test("checkInputImages() words each endpoint's refusal for its own fields", () => {
  const refusal = (model: string, count: number, endpoint: "generations" | "edits" | "chat") => {
    try {
      checkInputImages(modelInfo(model), count, endpoint);
      return undefined;
    } catch (err) {
      const { param, code } = err as { param: string; code: string };
      return [param, code];
    }
  };
  assert.deepEqual(refusal(EDIT, 0, "generations"), ["image", "missing_image"]);
  assert.deepEqual(refusal(EDIT, 0, "edits"), ["image", "missing_image"]);
  assert.deepEqual(refusal(EDIT, 0, "chat"), ["messages", "missing_image"]);
  // Extra images on generations are the plan's to drop and report, not a refusal.
  assert.equal(refusal(KOLORS, 3, "generations"), undefined);
  assert.deepEqual(refusal(KOLORS, 3, "chat"), ["messages", "too_many_images"]);
  assert.deepEqual(refusal(KOLORS, 2, "edits"), ["image", "too_many_images"]);
  assert.deepEqual(refusal("Qwen/Qwen-Image", 1, "edits"), ["model", "model_not_for_edits"]);
  assert.deepEqual(refusal("Qwen/Qwen-Image", 1, "chat"), ["messages", "too_many_images"]);
  // A text-to-image model needs no image in chat or generations, while an edit needs one.
  assert.equal(refusal(KOLORS, 0, "chat"), undefined);
  assert.deepEqual(refusal(KOLORS, 0, "edits"), ["image", "missing_image"]);
});

Deno.test("resolveModel() follows a chain of aliases to its end and stops at a loop", () => {
  const aliases = { "dall-e-3": "flux", flux: "black-forest-labs/FLUX.1-schnell", a: "b", b: "a" };
  assert.equal(resolveModel("dall-e-3", aliases), "black-forest-labs/FLUX.1-schnell");
  assert.equal(resolveModel("DALL-E-3", aliases), "black-forest-labs/FLUX.1-schnell");
  assert.equal(resolveModel("a", aliases), "b");
  assert.equal(resolveModel("Kwai-Kolors/Kolors", aliases), "Kwai-Kolors/Kolors");
  const { info } = chooseModel(undefined, "generations", {
    aliases: { a: "b", b: "Qwen/Qwen-Image" },
    defaultModel: "a",
  });
  assert.equal(info.id, "Qwen/Qwen-Image");
});
