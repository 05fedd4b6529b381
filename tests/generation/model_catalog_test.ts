/**
 * The model catalog: what each SiliconFlow image model accepts, generic rules for unknown models,
 * ratio → size and OpenAI size snapping.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  modelInfo,
  sizeForRatio,
  snapSize,
  supportsBatch,
} from "../../lib/generation/model_catalog.ts";
import { MAX_BATCH_SIZE } from "../../lib/upstream/siliconflow.ts";

const KOLORS = "Kwai-Kolors/Kolors";
const QWEN = "Qwen/Qwen-Image";
const QWEN_EDIT = "Qwen/Qwen-Image-Edit";
const QWEN_EDIT_2509 = "Qwen/Qwen-Image-Edit-2509";

const STEPS = { min: 1, max: 100, default: 20 };
const params = (...names: string[]) => new Set(["negative_prompt", "seed", ...names]);

Deno.test("modelInfo() describes Kolors: five sizes, batches, guidance_scale, an optional image", () => {
  assert.deepEqual(modelInfo(KOLORS), {
    id: KOLORS,
    known: true,
    kind: "text-to-image",
    sizes: ["1024x1024", "960x1280", "768x1024", "720x1440", "720x1280"],
    takesImageSize: true,
    batch: true,
    minInputImages: 0,
    maxInputImages: 1,
    params: params("num_inference_steps", "image_size", "batch_size", "guidance_scale", "image"),
    steps: STEPS,
    guidance: { param: "guidance_scale", min: 0, max: 20, default: 7.5 },
  });
});

Deno.test("modelInfo() describes Qwen-Image: seven sizes, cfg, no input images, no batch", () => {
  assert.deepEqual(modelInfo(QWEN), {
    id: QWEN,
    known: true,
    kind: "text-to-image",
    sizes: [
      "1328x1328",
      "1664x928",
      "928x1664",
      "1472x1140",
      "1140x1472",
      "1584x1056",
      "1056x1584",
    ],
    takesImageSize: true,
    batch: false,
    minInputImages: 0,
    maxInputImages: 0,
    params: params("num_inference_steps", "image_size", "cfg"),
    steps: STEPS,
    guidance: { param: "cfg", min: 0.1, max: 20, default: 4 },
  });
});

Deno.test("modelInfo() describes Qwen-Image-Edit: exactly one input image and no image_size", () => {
  assert.deepEqual(modelInfo(QWEN_EDIT), {
    id: QWEN_EDIT,
    known: true,
    kind: "image-to-image",
    sizes: [],
    takesImageSize: false,
    batch: false,
    minInputImages: 1,
    maxInputImages: 1,
    params: params("num_inference_steps", "image"),
    steps: STEPS,
  });
});

Deno.test("modelInfo() describes Qwen-Image-Edit-2509: one to three images as image, image2, image3", () => {
  assert.deepEqual(modelInfo(QWEN_EDIT_2509), {
    id: QWEN_EDIT_2509,
    known: true,
    kind: "image-to-image",
    sizes: [],
    takesImageSize: false,
    batch: false,
    minInputImages: 1,
    maxInputImages: 3,
    params: params("num_inference_steps", "image", "image2", "image3"),
    steps: STEPS,
  });
});

Deno.test("modelInfo() describes the FLUX family with each model's own sizes and knobs", () => {
  const flux = (id: string, sizes: string[], extra: string[], steps = STEPS) => ({
    id,
    known: true,
    kind: "text-to-image",
    sizes,
    takesImageSize: true,
    batch: false,
    minInputImages: 0,
    maxInputImages: 0,
    params: params("num_inference_steps", "image_size", ...extra),
    steps,
  });
  const legacyEnum = ["1024x1024", "512x1024", "768x512", "768x1024", "1024x576", "576x1024"];
  const proSizes = ["1024x1024", "960x1280", "768x1024", "720x1440", "720x1280"];
  assert.deepEqual(
    modelInfo("black-forest-labs/FLUX.1-schnell"),
    flux("black-forest-labs/FLUX.1-schnell", legacyEnum, ["prompt_enhancement"]),
  );
  assert.deepEqual(
    modelInfo("Pro/black-forest-labs/FLUX.1-schnell"),
    flux("Pro/black-forest-labs/FLUX.1-schnell", proSizes, []),
  );
  assert.deepEqual(
    modelInfo("black-forest-labs/FLUX.1-dev"),
    flux("black-forest-labs/FLUX.1-dev", proSizes, [], { min: 1, max: 30, default: 20 }),
  );
  assert.deepEqual(
    modelInfo("black-forest-labs/FLUX.2-pro"),
    flux(
      "black-forest-labs/FLUX.2-pro",
      ["512x512", "768x1024", "1024x768", "576x1024", "1024x576"],
      ["output_format"],
    ),
  );
});

Deno.test("modelInfo() describes the Stable Diffusion models: batch, guidance_scale 0-100, image for SDXL and 2.1", () => {
  const sd = (id: string, sizes: string[], maxInputImages: number) => ({
    id,
    known: true,
    kind: "text-to-image",
    sizes,
    takesImageSize: true,
    batch: true,
    minInputImages: 0,
    maxInputImages,
    params: params(
      "num_inference_steps",
      "image_size",
      "batch_size",
      "guidance_scale",
      ...(maxInputImages ? ["image"] : []),
    ),
    steps: STEPS,
    guidance: { param: "guidance_scale", min: 0, max: 100 },
  });
  const proSizes = ["1024x1024", "960x1280", "768x1024", "720x1440", "720x1280"];
  assert.deepEqual(
    modelInfo("stabilityai/stable-diffusion-3-5-large"),
    sd(
      "stabilityai/stable-diffusion-3-5-large",
      ["1024x1024", "512x1024", "768x512", "768x1024", "1024x576", "576x1024"],
      0,
    ),
  );
  assert.deepEqual(
    modelInfo("stabilityai/stable-diffusion-3-medium"),
    sd("stabilityai/stable-diffusion-3-medium", proSizes, 0),
  );
  assert.deepEqual(
    modelInfo("stabilityai/stable-diffusion-xl-base-1.0"),
    sd("stabilityai/stable-diffusion-xl-base-1.0", proSizes, 1),
  );
  assert.deepEqual(
    modelInfo("stabilityai/stable-diffusion-2-1"),
    sd(
      "stabilityai/stable-diffusion-2-1",
      ["512x512", "512x1024", "768x512", "768x1024", "1024x576", "576x1024"],
      1,
    ),
  );
});

Deno.test("modelInfo() describes Janus-Pro-7B: fixed output size, so no image_size and only seed", () => {
  assert.deepEqual(modelInfo("deepseek-ai/Janus-Pro-7B"), {
    id: "deepseek-ai/Janus-Pro-7B",
    known: true,
    kind: "text-to-image",
    sizes: [],
    takesImageSize: false,
    batch: false,
    minInputImages: 0,
    maxInputImages: 0,
    params: new Set(["seed"]),
  });
});

Deno.test("modelInfo() matches ids case-insensitively and answers with the canonical spelling", () => {
  assert.deepEqual(modelInfo("kwai-kolors/KOLORS"), modelInfo(KOLORS));
  assert.deepEqual(modelInfo("qwen/qwen-image-edit-2509"), modelInfo(QWEN_EDIT_2509));
  assert.equal(
    modelInfo("PRO/BLACK-FOREST-LABS/flux.1-schnell").id,
    "Pro/black-forest-labs/FLUX.1-schnell",
  );
});

Deno.test("modelInfo() gives a Pro/ id without an entry of its own the unprefixed model's rules", () => {
  assert.deepEqual(modelInfo("Pro/black-forest-labs/FLUX.1-dev"), {
    ...modelInfo("black-forest-labs/FLUX.1-dev"),
    id: "Pro/black-forest-labs/FLUX.1-dev",
  });
  assert.deepEqual(modelInfo("pro/qwen/qwen-image"), {
    ...modelInfo(QWEN),
    id: "Pro/Qwen/Qwen-Image",
  });
  // Pro/FLUX.1-schnell has its own entry with a different size list (SF-oapi).
  assert.notDeepEqual(
    modelInfo("Pro/black-forest-labs/FLUX.1-schnell").sizes,
    modelInfo("black-forest-labs/FLUX.1-schnell").sizes,
  );
});

Deno.test("modelInfo() gives an unknown model generic text-to-image rules with five common sizes", () => {
  assert.deepEqual(modelInfo("Tongyi-MAI/Z-Image-Turbo"), {
    id: "Tongyi-MAI/Z-Image-Turbo",
    known: false,
    kind: "text-to-image",
    sizes: ["1024x1024", "768x1024", "1024x768", "720x1280", "1280x720"],
    takesImageSize: true,
    batch: false,
    minInputImages: 0,
    maxInputImages: 1,
    params: params("num_inference_steps", "image_size", "image"),
    steps: STEPS,
  });
});

Deno.test("modelInfo() treats an unknown model named ...-Edit as a one-image edit model without image_size", () => {
  assert.deepEqual(modelInfo("Vendor/Some-Image-EDIT-2601"), {
    id: "Vendor/Some-Image-EDIT-2601",
    known: false,
    kind: "image-to-image",
    sizes: [],
    takesImageSize: false,
    batch: false,
    minInputImages: 1,
    maxInputImages: 1,
    params: params("num_inference_steps", "image"),
    steps: STEPS,
  });
});

Deno.test("modelInfo() lets an unknown Stable Diffusion model batch, as every SD schema had batch_size", () => {
  const info = modelInfo("stabilityai/stable-diffusion-3-5-large-turbo");
  assert.equal(info.known, false);
  assert.equal(info.batch, true);
  assert.deepEqual(info.sizes, ["1024x1024", "768x1024", "1024x768", "720x1280", "1280x720"]);
  assert.deepEqual(
    info.params,
    params("num_inference_steps", "image_size", "batch_size", "guidance_scale", "image"),
  );
});

Deno.test("sizeForRatio() picks Qwen-Image's size with the nearest aspect ratio", () => {
  const cases: [number, number, string][] = [
    [16, 9, "1664x928"],
    [9, 16, "928x1664"],
    [1, 1, "1328x1328"],
    [4, 3, "1472x1140"],
    [3, 4, "1140x1472"],
    [2, 3, "1056x1584"],
    [3, 2, "1584x1056"],
    [21, 9, "1664x928"],
  ];
  for (const [w, h, size] of cases) assert.equal(sizeForRatio(QWEN, w, h), size, `${w}:${h}`);
});

Deno.test("sizeForRatio() gives Kolors, which has no landscape size, its square size for landscape ratios", () => {
  const cases: [number, number, string][] = [
    // Square is off by one ratio step; any Kolors portrait would be off by more (log scale).
    [16, 9, "1024x1024"],
    [4, 3, "1024x1024"],
    [21, 9, "1024x1024"],
    [9, 16, "720x1280"],
    [1, 1, "1024x1024"],
    // 960x1280 and 768x1024 are both 3:4: the earlier one wins the tie.
    [3, 4, "960x1280"],
    // 2:3 lies between 3:4 (off by ln 1.125) and 9:16 (off by ln 1.185): 3:4 is nearer.
    [2, 3, "960x1280"],
    [1, 2, "720x1440"],
  ];
  for (const [w, h, size] of cases) assert.equal(sizeForRatio(KOLORS, w, h), size, `${w}:${h}`);
});

Deno.test("sizeForRatio() gives a ratio exactly between two sizes to the earlier one", () => {
  // √27:8 is, on a log scale, exactly halfway between 3:4 (768x1024) and 9:16 (576x1024).
  const schnell = "black-forest-labs/FLUX.1-schnell";
  assert.equal(sizeForRatio(schnell, Math.sqrt(27), 8), "768x1024");
  // Halfway between 1:1 and 4:3, FLUX.2-pro's default 512x512 wins over 1024x768.
  assert.equal(sizeForRatio("black-forest-labs/FLUX.2-pro", Math.sqrt(4), Math.sqrt(3)), "512x512");
  // Past halfway, the nearer size wins.
  assert.equal(sizeForRatio("black-forest-labs/FLUX.2-pro", 1.16, 1), "1024x768");
});

Deno.test("sizeForRatio() falls back to the default size for a ratio that is not positive", () => {
  assert.equal(sizeForRatio(QWEN, 0, 9), "1328x1328");
  assert.equal(sizeForRatio(QWEN, 16, 0), "1328x1328");
  assert.equal(sizeForRatio(QWEN, -16, 9), "1328x1328");
  assert.equal(sizeForRatio(QWEN, Number.NaN, 9), "1328x1328");
});

Deno.test("sizeForRatio() is undefined for models that take no image_size", () => {
  assert.equal(sizeForRatio(QWEN_EDIT, 16, 9), undefined);
  assert.equal(sizeForRatio(QWEN_EDIT_2509, 1, 1), undefined);
  assert.equal(sizeForRatio("vendor/unknown-edit", 4, 3), undefined);
});

Deno.test("snapSize() maps Open WebUI's default 512x512 to each model's square size", () => {
  assert.deepEqual(snapSize(KOLORS, "512x512"), { size: "1024x1024", snapped: true });
  assert.deepEqual(snapSize(QWEN, "512x512"), { size: "1328x1328", snapped: true });
  assert.deepEqual(snapSize("black-forest-labs/FLUX.2-pro", "512x512"), {
    size: "512x512",
    snapped: false,
  });
});

Deno.test("snapSize() maps DALL-E 3's 1792x1024 and 1024x1792 to the nearest recommended shape", () => {
  assert.deepEqual(snapSize(QWEN, "1792x1024"), { size: "1664x928", snapped: true });
  assert.deepEqual(snapSize(QWEN, "1024x1792"), { size: "928x1664", snapped: true });
  assert.deepEqual(snapSize(KOLORS, "1792x1024"), { size: "1024x1024", snapped: true });
  assert.deepEqual(snapSize(KOLORS, "1024x1792"), { size: "720x1280", snapped: true });
  assert.deepEqual(snapSize("black-forest-labs/FLUX.1-schnell", "1792x1024"), {
    size: "1024x576",
    snapped: true,
  });
});

Deno.test("snapSize() leaves auto and a missing size to SiliconFlow's default", () => {
  assert.deepEqual(snapSize(KOLORS, "auto"), { size: undefined, snapped: false });
  assert.deepEqual(snapSize(QWEN, "AUTO"), { size: undefined, snapped: false });
  assert.deepEqual(snapSize(QWEN, undefined), { size: undefined, snapped: false });
});

Deno.test("snapSize() passes a listed size through unchanged", () => {
  assert.deepEqual(snapSize(KOLORS, "960x1280"), { size: "960x1280", snapped: false });
  assert.deepEqual(snapSize(QWEN, "1664x928"), { size: "1664x928", snapped: false });
  assert.deepEqual(snapSize(QWEN, "1664X928"), { size: "1664x928", snapped: false });
});

Deno.test("snapSize() gives an unreadable size the model's default size", () => {
  assert.deepEqual(snapSize(KOLORS, "large"), { size: "1024x1024", snapped: true });
  assert.deepEqual(snapSize(QWEN, "0x100"), { size: "1328x1328", snapped: true });
});

Deno.test("snapSize() drops the size for edit models and says so unless none was asked for", () => {
  assert.deepEqual(snapSize(QWEN_EDIT, "1024x1024"), { size: undefined, snapped: true });
  assert.deepEqual(snapSize(QWEN_EDIT_2509, "512x512"), { size: undefined, snapped: true });
  assert.deepEqual(snapSize(QWEN_EDIT, "auto"), { size: undefined, snapped: false });
  assert.deepEqual(snapSize(QWEN_EDIT_2509, undefined), { size: undefined, snapped: false });
});

Deno.test("supportsBatch() is true only for Kolors and Stable Diffusion, in any case", () => {
  assert.equal(MAX_BATCH_SIZE, 4);
  assert.equal(supportsBatch(KOLORS), true);
  assert.equal(supportsBatch("kwai-kolors/kolors"), true);
  assert.equal(supportsBatch("stabilityai/stable-diffusion-xl-base-1.0"), true);
  assert.equal(supportsBatch("StabilityAI/Stable-Diffusion-3-5-Large-Turbo"), true);
  assert.equal(supportsBatch(QWEN), false);
  assert.equal(supportsBatch(QWEN_EDIT_2509), false);
  assert.equal(supportsBatch("black-forest-labs/FLUX.1-schnell"), false);
  assert.equal(supportsBatch("Kwai-Kolors/Kolors-v2"), false);
  assert.equal(supportsBatch("vendor/unknown"), false);
});
