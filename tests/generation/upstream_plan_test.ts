/**
 * `planUpstreamCalls()`: the pure mapping from an OpenAI image request to SiliconFlow calls.
 *
 * @module
 */
import assert from "node:assert/strict";
import { InvalidRequestError, PayloadTooLargeError } from "../../lib/errors.ts";
import { parseImageRequest } from "../../lib/openai/image_request.ts";
import { planUpstreamCalls } from "../../lib/generation/upstream_plan.ts";

const OPTIONS = { defaultModel: "Kwai-Kolors/Kolors", maxImages: 10 };

function seeds(...values: number[]): () => number {
  return () => values.shift() ?? assert.fail("more seeds drawn than expected");
}

Deno.test("planUpstreamCalls() maps size to image_size and makes one call for one image", () => {
  const plan = planUpstreamCalls(
    parseImageRequest({ model: "Qwen/Qwen-Image", prompt: "p", size: "1328x1328", cfg: 4 }),
    { ...OPTIONS, randomSeed: seeds() },
  );
  assert.deepEqual(plan, {
    model: "Qwen/Qwen-Image",
    count: 1,
    bodies: [{ model: "Qwen/Qwen-Image", prompt: "p", image_size: "1328x1328", cfg: 4 }],
    size: "1328x1328",
    dropped: [],
  });
});

Deno.test("planUpstreamCalls() batches Kolors by 4 and gives each batch its own seed", () => {
  const plan = planUpstreamCalls(parseImageRequest({ prompt: "p", n: 9 }), {
    ...OPTIONS,
    randomSeed: seeds(11, 22, 33),
  });
  assert.deepEqual(plan.bodies, [
    { model: "Kwai-Kolors/Kolors", prompt: "p", image_size: "1024x1024", batch_size: 4, seed: 11 },
    { model: "Kwai-Kolors/Kolors", prompt: "p", image_size: "1024x1024", batch_size: 4, seed: 22 },
    { model: "Kwai-Kolors/Kolors", prompt: "p", image_size: "1024x1024", batch_size: 1, seed: 33 },
  ]);
  assert.equal(plan.count, 9);
});

Deno.test("planUpstreamCalls() takes batch_size as the image count when n is absent", () => {
  const plan = planUpstreamCalls(parseImageRequest({ prompt: "p", batch_size: 3 }), {
    ...OPTIONS,
    randomSeed: seeds(),
  });
  assert.deepEqual(plan.bodies, [
    { model: "Kwai-Kolors/Kolors", prompt: "p", image_size: "1024x1024", batch_size: 3 },
  ]);
});

Deno.test("planUpstreamCalls() drops batch_size for models that do not batch", () => {
  const plan = planUpstreamCalls(
    parseImageRequest({ model: "Qwen/Qwen-Image", prompt: "p", n: 2, batch_size: 2, seed: 5 }),
    { ...OPTIONS, randomSeed: seeds() },
  );
  assert.deepEqual(plan.bodies, [
    { model: "Qwen/Qwen-Image", prompt: "p", image_size: "1328x1328", seed: 5 },
    { model: "Qwen/Qwen-Image", prompt: "p", image_size: "1328x1328", seed: 6 },
  ]);
});

Deno.test("planUpstreamCalls() refuses more images than the cap, naming the field used", () => {
  const refused = (body: Record<string, unknown>, maxImages: number, param: string) =>
    assert.throws(
      () =>
        planUpstreamCalls(parseImageRequest({ prompt: "p", ...body }), { ...OPTIONS, maxImages }),
      (err: unknown) => err instanceof InvalidRequestError && err.param === param,
    );
  refused({ n: 11 }, 10, "n");
  refused({ batch_size: 4 }, 3, "batch_size");
});

Deno.test("planUpstreamCalls() checks guidance against each model's own range", () => {
  const plan = (body: Record<string, unknown>) =>
    planUpstreamCalls(parseImageRequest({ prompt: "p", ...body }), {
      ...OPTIONS,
      randomSeed: seeds(),
    });
  assert.equal(
    plan({ model: "stabilityai/stable-diffusion-xl-base-1.0", guidance_scale: 50 }).bodies[0]
      .guidance_scale,
    50,
  );
  assert.throws(
    () => plan({ model: "Kwai-Kolors/Kolors", guidance_scale: 25 }),
    (err: unknown) =>
      err instanceof InvalidRequestError && err.param === "guidance_scale" &&
      err.message === "guidance_scale must be between 0 and 20 for Kwai-Kolors/Kolors",
  );
});

Deno.test("planUpstreamCalls() sends FLUX's own switches only to the models that take them", () => {
  const plan = (body: Record<string, unknown>) =>
    planUpstreamCalls(parseImageRequest({ prompt: "p", ...body }), {
      ...OPTIONS,
      randomSeed: seeds(),
    });
  assert.equal(
    plan({ model: "black-forest-labs/FLUX.2-pro", output_format: "jpeg" }).bodies[0].output_format,
    "jpeg",
  );
  assert.equal(
    plan({ model: "black-forest-labs/FLUX.2-pro", output_format: "webp" }).bodies[0].output_format,
    undefined,
  );
  assert.equal(
    plan({ model: "Kwai-Kolors/Kolors", output_format: "png" }).bodies[0].output_format,
    undefined,
  );
  const schnell = plan({ model: "black-forest-labs/FLUX.1-schnell", prompt_enhancement: "true" });
  assert.equal(schnell.bodies[0].prompt_enhancement, true);
  const kolors = plan({ model: "Kwai-Kolors/Kolors", prompt_enhancement: true });
  assert.equal(kolors.bodies[0].prompt_enhancement, undefined);
  assert.deepEqual(kolors.dropped, ["prompt_enhancement"]);
});

Deno.test("planUpstreamCalls() refuses more inline image data than parallel calls can carry", () => {
  // Each parallel call carries its own copy: 3 calls × 22 MB is over the 64 MB cap.
  const big = `data:image/png;base64,${"A".repeat(22 * 1024 * 1024)}`;
  const request = parseImageRequest({
    model: "Qwen/Qwen-Image-Edit",
    prompt: "p",
    image: big,
    n: 3,
  });
  assert.throws(
    () => planUpstreamCalls(request, { ...OPTIONS, randomSeed: seeds(1, 2, 3) }),
    (err: unknown) =>
      err instanceof PayloadTooLargeError && err.param === "n" &&
      /^3 parallel calls with 22\.0 MB of input images each would send 66\.0 MB; at most 64\.0 MB/
        .test(err.message),
  );
  const one = parseImageRequest({ model: "Qwen/Qwen-Image-Edit", prompt: "p", image: big, n: 2 });
  assert.equal(planUpstreamCalls(one, { ...OPTIONS, randomSeed: seeds(1, 2) }).bodies.length, 2);
});
