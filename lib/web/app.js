/**
 * The playground's entry: the language, the key and what the gateway's mode asks of it, the two
 * views (Create and Gallery), the keyboard (Ctrl/Cmd+Enter generates), and the settings panel,
 * open beside the results on a desktop and folded under the prompt on a phone.
 */
import { $, loadKey, saveKey } from "./api.js";
import { applyModel, loadModels, wireInputs } from "./controls.js";
import { cancel, generate } from "./generate.js";
import { loadGallery, wireGallery } from "./gallery.js";
import { apply, clear, language, say, setLanguage } from "./i18n.js";
import { openViewer, wireViewer } from "./viewer.js";

function showView(view) {
  const gallery = view === "gallery";
  $("generate-view").hidden = gallery;
  $("gallery-view").hidden = !gallery;
  $("show-generate").setAttribute("aria-pressed", String(!gallery));
  $("show-gallery").setAttribute("aria-pressed", String(gallery));
  if (gallery) loadGallery(true);
}

/** The key field's hint: the gateway's own keys (pool mode), or the person's SiliconFlow key. */
async function keyHint() {
  let mode = "pool";
  try {
    const res = await fetch("/health");
    mode = (await res.json()).auth_mode ?? mode;
  } catch {
    // Without an answer the pool-mode words are the safer guess: they ask for no upstream key.
  }
  say($("key-hint"), mode === "pass-through" ? "key.hint.pass" : "key.hint.pool");
}

function wire() {
  const wide = matchMedia("(min-width: 52.01rem)");
  $("settings").open = wide.matches;
  wide.addEventListener("change", () => ($("settings").open = wide.matches));

  $("lang").value = language();
  $("lang").addEventListener("change", () => {
    setLanguage($("lang").value);
    applyModel();
  });
  $("key").addEventListener("input", () => clear("key"));
  $("key").addEventListener("change", () => {
    saveKey();
    loadModels();
  });
  $("prompt").addEventListener("input", () => clear("prompt"));
  for (const id of ["seed", "steps", "guidance"]) {
    $(id).addEventListener("input", () => clear(id));
  }
  $("form").addEventListener("submit", (e) => {
    e.preventDefault();
    generate();
  });
  $("cancel").addEventListener("click", cancel);
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey)) return;
    if ($("generate-view").hidden || $("viewer").open) return;
    e.preventDefault();
    generate();
  });
  $("show-generate").addEventListener("click", () => showView("generate"));
  $("show-gallery").addEventListener("click", () => showView("gallery"));
  for (const id of ["runs", "gallery"]) {
    $(id).addEventListener("click", (e) => {
      const thumb = e.target.closest(".thumb");
      if (thumb) openViewer(thumb);
    });
  }
  wireInputs();
  wireViewer(showView);
  wireGallery();
}

apply();
loadKey();
wire();
keyHint();
loadModels();
