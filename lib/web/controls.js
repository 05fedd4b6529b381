/**
 * The settings panel: the models this key may use (from `/v1/models?include=capabilities`), and
 * controls that offer only what the chosen model takes: its own sizes, seed, negative prompt,
 * steps and guidance, and input images (dropped, pasted or picked) for edit models, up to their
 * number.
 */
import { $, apiKey, call, problem } from "./api.js";
import { clear, fault, label, say, t } from "./i18n.js";

/** What a model takes when the gateway says nothing of it. */
const PLAIN = {
  kind: "text-to-image",
  sizes: [],
  input_images: { min: 0, max: 0 },
  negative_prompt: true,
  seed: true,
  steps: null,
  guidance: null,
};
/** Bigger pictures than this are refused before they are sent (the gateway's limit is 20 MB). */
const MAX_INPUT_BYTES = 10 * 1024 * 1024;
const RATIOS = [[1, 1], [4, 3], [3, 4], [3, 2], [2, 3], [16, 9], [9, 16], [2, 1], [1, 2]];

export const state = { models: [], inputs: [] };

/** The chosen model's capabilities. */
export function caps() {
  return state.models.find((m) => m.id === $("model").value)?.capabilities ?? PLAIN;
}

export function editModels() {
  return state.models.filter((m) => m.capabilities?.kind === "image-to-image");
}

/** `[w, h]` of "WxH". */
export function dims(size) {
  const [w, h] = String(size ?? "").split("x").map(Number);
  return w > 0 && h > 0 ? [w, h] : undefined;
}

function sizeLabel(size) {
  const [w, h] = dims(size);
  const near = RATIOS.find(([a, b]) => Math.abs(Math.log((w / h) / (a / b))) < 0.03);
  return `${w} × ${h}` + (near ? ` (${near[0]}:${near[1]})` : "");
}

/** Loads the models this key may use; problems go beside the key or Generate. */
export async function loadModels() {
  const select = $("model");
  // Until a list arrives no model is offered, and Generate says why (none is stale).
  const none = (key) => {
    state.models = [];
    const option = new Option("", "");
    say(option, key);
    select.replaceChildren(option);
    applyModel();
  };
  if (!apiKey()) return none("model.nokey");
  const res = await call("/v1/models?include=capabilities");
  if (res.status !== 200) {
    none("model.failed");
    const p = problem(res);
    // Beside the key, or beside Generate: the model list is folded away on a phone.
    return fault(p.field === "key" ? "key" : "run", p);
  }
  for (const field of ["key", "model", "run"]) clear(field);
  state.models = res.body.data;
  const was = select.value || localStorage.getItem("sf-image-gateway.model");
  select.replaceChildren(...state.models.map((m) => new Option(m.id, m.id)));
  if (state.models.some((m) => m.id === was)) select.value = was;
  applyModel();
}

function range(id, spec) {
  const field = $(id + "-field");
  field.hidden = !spec;
  if (!spec) return;
  const input = $(id);
  input.min = String(spec.min);
  input.max = String(spec.max);
  input.placeholder = spec.default === undefined ? "" : String(spec.default);
}

/** Shows the controls the chosen model takes, and only those. */
export function applyModel() {
  const c = caps();
  if ($("model").value) localStorage.setItem("sf-image-gateway.model", $("model").value);
  const size = $("size");
  const was = size.value;
  const auto = new Option(t("size.default"), "");
  auto.dataset.t = "size.default";
  size.replaceChildren(auto, ...c.sizes.map((s) => new Option(sizeLabel(s), s)));
  size.value = c.sizes.includes(was) ? was : "";
  $("size-field").hidden = c.sizes.length === 0;
  $("seed-field").hidden = !c.seed;
  $("negative-field").hidden = !c.negative_prompt;
  range("steps", c.steps);
  range("guidance", c.guidance);
  const max = c.input_images.max;
  $("inputs").hidden = max === 0;
  say($("inputs-hint"), max === 1 ? "inputs.hint1" : "inputs.hint", { max });
  while (state.inputs.length > max) drop(state.inputs.length - 1);
  renderThumbs();
  clear("model");
  if (state.inputs.length >= c.input_images.min) clear("images");
}

function drop(index) {
  const [gone] = state.inputs.splice(index, 1);
  if (gone?.file) URL.revokeObjectURL(gone.src);
}

function renderThumbs() {
  const items = state.inputs.map((input, i) => {
    const li = document.createElement("li");
    const img = document.createElement("img");
    img.src = input.src;
    img.alt = t("inputs.thumb", { n: i + 1 });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "×";
    label(remove, "inputs.remove", { n: i + 1 });
    remove.addEventListener("click", () => {
      drop(i);
      renderThumbs();
      // Focus stays in the list: on the next picture's button, or on the picker.
      const buttons = $("thumbs").querySelectorAll("button");
      (buttons[Math.min(i, buttons.length - 1)] ?? $("pick")).focus();
    });
    li.append(img, remove);
    return li;
  });
  $("thumbs").replaceChildren(...items);
}

function room() {
  const { max } = caps().input_images;
  if (state.inputs.length < max) return true;
  fault("images", { key: max === 1 ? "err.too_many1" : "err.too_many", vars: { max } });
  return false;
}

/** Adds pictures (from the picker, a drop or a paste), up to what the model takes. */
export function addFiles(files) {
  clear("images");
  for (const file of files) {
    if (!/^image\/(png|jpeg|webp)$/.test(file.type)) {
      fault("images", { key: "err.not_image", vars: {} });
      continue;
    }
    if (file.size > MAX_INPUT_BYTES) {
      fault("images", { key: "err.too_large", vars: {} });
      continue;
    }
    if (!room()) break;
    state.inputs.push({ file, src: URL.createObjectURL(file) });
  }
  renderThumbs();
}

/** Adds an image already on the gateway by its link ("Use as input"). */
export function addLink(url) {
  clear("images");
  if (!room()) return;
  state.inputs.push({ src: url });
  renderThumbs();
}

function dataUri(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** The input images as the API's `image`, `image2`, `image3` fields (data URIs or links). */
export async function imageFields() {
  const fields = {};
  for (const [i, input] of state.inputs.entries()) {
    fields[i === 0 ? "image" : "image" + (i + 1)] = input.file
      ? await dataUri(input.file)
      : input.src;
  }
  return fields;
}

/** Drop and paste of pictures, and the picker. */
export function wireInputs() {
  const zone = $("inputs");
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    addFiles(e.dataTransfer?.files ?? []);
  });
  document.addEventListener("paste", (e) => {
    if (zone.hidden || $("generate-view").hidden) return;
    const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith("image/"));
    if (files.length === 0) return;
    e.preventDefault();
    addFiles(files);
  });
  $("pick").addEventListener("change", () => {
    addFiles($("pick").files ?? []);
    $("pick").value = "";
  });
  $("model").addEventListener("change", applyModel);
}
