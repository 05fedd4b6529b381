/**
 * A provider that speaks OpenAI's Images API (`kind: "openai"` in `PROVIDERS_JSON`): generations as
 * JSON to `{base}/images/generations`, edits as multipart to `{base}/images/edits`, answers with
 * `data[].url` or `data[].b64_json`. It takes the same planned bodies as SiliconFlow (the plan is
 * shared) and maps them: `image_size` → `size`, `batch_size` → `n`, `image`…`image3` → `image[]`
 * files; SiliconFlow's own knobs (seed, steps, guidance, negative prompt) have no OpenAI field.
 *
 * @module
 */
import {
  GenerationResult,
  parseGeneration,
  SiliconFlowClient,
  SiliconFlowError,
} from "./siliconflow.ts";

const DATA_URI = /^data:([^;,]+)?(?:;base64)?,(.*)$/s;

export class OpenAIImagesClient extends SiliconFlowClient {
  override async generate(
    body: Record<string, unknown>,
    key: string,
    signal?: AbortSignal,
  ): Promise<GenerationResult> {
    const inputs = ["image", "image2", "image3"]
      .map((field) => body[field])
      .filter((v): v is string => typeof v === "string" && v !== "");
    const n = typeof body.batch_size === "number" ? body.batch_size : 1;
    if (inputs.length === 0) {
      const request: Record<string, unknown> = { model: body.model, prompt: body.prompt, n };
      if (typeof body.image_size === "string") request.size = body.image_size;
      return parseGeneration(
        await this.request("/images/generations", key, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(request),
          signal,
        }),
      );
    }
    const form = new FormData();
    form.set("model", String(body.model));
    form.set("prompt", String(body.prompt));
    form.set("n", String(n));
    if (typeof body.image_size === "string") form.set("size", body.image_size);
    for (const [i, input] of inputs.entries()) {
      form.append("image[]", this.#inputFile(input), `image${i + 1}.png`);
    }
    return parseGeneration(
      await this.request("/images/edits", key, { method: "POST", body: form, signal }),
    );
  }

  /**
   * An input image as a file, decoded from its data URI. Links are refused rather than fetched:
   * fetching what a client names would let it reach hosts only the gateway can (our own `/i/`
   * links arrive here already inlined).
   */
  #inputFile(input: string): Blob {
    const data = DATA_URI.exec(input);
    if (!data) {
      throw new SiliconFlowError(
        400,
        "this provider takes input images as uploads: send the file (or a data: URI), not a link",
      );
    }
    const bytes = Uint8Array.from(atob(data[2]), (c) => c.charCodeAt(0));
    return new Blob([bytes], { type: data[1] ?? "application/octet-stream" });
  }
}
