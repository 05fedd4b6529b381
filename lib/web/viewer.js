/**
 * The large view: a real `<dialog>` with the image, its prompt, model, size, seed and time, and
 * its actions (Copy Markdown, Copy link, Download original, Use as input, Reuse settings). The
 * arrow keys show the other images of the same list; Escape closes, and focus goes back to the
 * image last shown.
 */
import { $, copyText } from "./api.js";
import { addLink, applyModel, editModels, state } from "./controls.js";
import { language, say, t } from "./i18n.js";

let list = [];
let at = 0;

function item() {
  return list[at].item;
}

/** Markdown alt text: the prompt without what would end it, cut short. */
function markdown(it) {
  const alt = it.prompt.replace(/[[\]\\\n\r]/g, " ").slice(0, 100);
  return `![${alt}](${it.url})`;
}

function row(dl, key, value) {
  if (value === undefined || value === null || value === "") return;
  const dt = document.createElement("dt");
  say(dt, key);
  const dd = document.createElement("dd");
  dd.textContent = String(value);
  dl.append(dt, dd);
}

function show() {
  const it = item();
  const img = $("viewer-img");
  img.src = it.url;
  img.alt = it.prompt;
  $("viewer-prompt").textContent = it.prompt;
  const dl = $("viewer-meta");
  dl.replaceChildren();
  row(dl, "model", it.model);
  row(dl, "size", it.size);
  row(dl, "seed", it.seed);
  if (it.seconds) row(dl, "meta.time", t("status.took", { s: it.seconds }));
  if (it.created) row(dl, "meta.created", new Date(it.created * 1000).toLocaleString(language()));
  $("v-download").href = it.url;
  $("v-input").hidden = editModels().length === 0;
  $("v-prev").hidden = $("v-next").hidden = list.length < 2;
  $("copy-box").hidden = true;
}

/** Opens the large view on a result or gallery button; its siblings are the arrow keys' list. */
export function openViewer(button) {
  list = [...button.closest("#runs, #gallery").querySelectorAll(".thumb")];
  at = Math.max(0, list.indexOf(button));
  show();
  $("viewer").showModal();
}

function step(by) {
  at = (at + by + list.length) % list.length;
  show();
}

async function copy(text, key) {
  const done = await copyText(text, $("viewer-copy-slot"));
  toast(done ? key : "copy.select");
}

/** A short message at the bottom of the page (read out by screen readers). */
export function toast(key, vars, action) {
  const box = $("toast");
  const text = document.createElement("span");
  say(text, key, vars);
  box.replaceChildren(text, ...(action ? [action] : []));
  box.hidden = false;
  clearTimeout(box.timer);
  if (!action) box.timer = setTimeout(() => (box.hidden = true), 4000);
}

export function wireViewer(showView) {
  const dialog = $("viewer");
  dialog.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement) return;
    if (e.key === "ArrowRight" || e.key === "ArrowDown") step(1);
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") step(-1);
    else return;
    e.preventDefault();
  });
  // Focus returns to the image last shown, not the one first opened.
  dialog.addEventListener("close", () => list[at]?.isConnected && list[at].focus());
  // A click on the backdrop (outside the dialog's box) closes it, as people expect.
  dialog.addEventListener("click", (e) => e.target === dialog && dialog.close());
  $("v-close").addEventListener("click", () => dialog.close());
  $("v-prev").addEventListener("click", () => step(-1));
  $("v-next").addEventListener("click", () => step(1));
  $("v-markdown").addEventListener("click", () => copy(markdown(item()), "copied.markdown"));
  $("v-link").addEventListener("click", () => copy(item().url, "copied.link"));
  $("v-input").addEventListener("click", () => {
    const url = item().url;
    const model = $("model");
    if (!editModels().some((m) => m.id === model.value)) {
      model.value = editModels()[0].id;
      applyModel();
    }
    addLink(url);
    list = [];
    dialog.close();
    showView("generate");
    $("settings").open = true;
    $("prompt").focus();
  });
  $("v-reuse").addEventListener("click", () => {
    const it = item();
    // This image's own seed, so that the same settings make it again.
    const s = { ...(it.settings ?? { model: it.model, prompt: it.prompt, size: it.size }) };
    if (it.seed !== undefined) s.seed = String(it.seed);
    if (state.models.some((m) => m.id === s.model)) {
      $("model").value = s.model;
      applyModel();
    }
    $("prompt").value = s.prompt ?? "";
    $("size").value = [...$("size").options].some((o) => o.value === s.size) ? s.size : "";
    // Emptied when the image does not say: a gallery image keeps no seed.
    for (const id of ["seed", "negative", "steps", "guidance"]) $(id).value = s[id] ?? "";
    $("n").value = String(s.n ?? 1);
    list = [];
    dialog.close();
    showView("generate");
    $("prompt").focus();
  });
}
