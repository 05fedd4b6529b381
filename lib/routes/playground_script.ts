/**
 * The web playground's script, sent as it is (no build step): plain browser JavaScript over the
 * public API (`/v1/models`, `/v1/images/generations` and `/edits` streamed) and the gallery API
 * (`/v1/images`). Every text that came from a user or the server is set with `textContent`, never
 * parsed as HTML.
 *
 * @module
 */

export const PLAYGROUND_JS = String.raw`
const $ = (id) => document.getElementById(id);
const KEY = "sf-image-gateway.key";
const key = $("key");
key.value = localStorage.getItem(KEY) ?? "";
const headers = () => ({ authorization: "Bearer " + key.value.trim() });

function say(where, text, error = false) {
  where.textContent = text;
  where.classList.toggle("error", error);
}

async function errorOf(res) {
  try {
    return (await res.json()).error?.message ?? res.statusText;
  } catch {
    return res.status + " " + res.statusText;
  }
}

function button(text, label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    say($("status"), what + " copied");
  } catch {
    window.prompt("Copy " + what.toLowerCase(), text);
  }
}

/** One image card: the picture, its caption, and its actions. */
function card(url, caption, meta, extra = []) {
  const figure = document.createElement("figure");
  const img = document.createElement("img");
  img.src = url;
  img.alt = caption;
  img.loading = "lazy";
  const text = document.createElement("figcaption");
  text.textContent = caption;
  const details = document.createElement("div");
  details.className = "meta";
  details.textContent = meta;
  const actions = document.createElement("div");
  actions.className = "actions";
  const download = document.createElement("a");
  download.href = url;
  download.download = "";
  download.textContent = "Download";
  const alt = caption.replace(/[\[\]\\\n]/g, " ").slice(0, 100);
  actions.append(
    button("Copy Markdown", "Copy Markdown of " + caption, () => copy("![" + alt + "](" + url + ")", "Markdown")),
    button("Copy link", "Copy link of " + caption, () => copy(url, "Link")),
    download,
    ...extra,
  );
  figure.append(img, text, details, actions);
  return figure;
}

async function loadModels() {
  if (!key.value.trim()) return say($("status"), "Enter your API key to begin.");
  const res = await fetch("/v1/models", { headers: headers() });
  if (!res.ok) return say($("status"), await errorOf(res), true);
  const { data } = await res.json();
  const select = $("model");
  const current = select.value;
  select.replaceChildren(...data.map((m) => new Option(m.id, m.id)));
  if (data.some((m) => m.id === current)) select.value = current;
  say($("status"), "");
  showInputs();
}

function showInputs() {
  $("inputs").hidden = !/edit/i.test($("model").value);
}

/** The request for the form: multipart to /edits when input images are chosen, else JSON. */
function request() {
  const fields = {
    model: $("model").value,
    prompt: $("prompt").value,
    n: $("n").value || "1",
    stream: "true",
  };
  if ($("size").value) fields.size = $("size").value;
  if ($("seed").value) fields.seed = $("seed").value;
  if ($("negative").value.trim()) fields.negative_prompt = $("negative").value.trim();
  const files = ["image1", "image2", "image3"].map((id) => $(id).files[0]).filter(Boolean);
  if (!$("inputs").hidden && files.length > 0) {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.set(name, value);
    for (const file of files) form.append(files.length === 1 ? "image" : "image[]", file);
    return ["/v1/images/edits", { method: "POST", headers: headers(), body: form }];
  }
  return ["/v1/images/generations", {
    method: "POST",
    headers: { ...headers(), "content-type": "application/json" },
    body: JSON.stringify(fields),
  }];
}

/** Reads the image stream's events as they come: keep-alives, one event per image, or an error. */
async function readEvents(res, onEvent) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    const frames = buffer.split("\n\n");
    buffer = frames.pop();
    for (const frame of frames) {
      const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("");
      if (data && data !== "[DONE]") onEvent(JSON.parse(data));
    }
  }
}

$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = $("status");
  const go = $("generate");
  go.disabled = true;
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  let made = 0;
  // The status (read out by screen readers) changes twice; the clock beside it ticks silently.
  say(status, "Generating…");
  const timer = setInterval(() => ($("elapsed").textContent = seconds() + " s"), 100);
  try {
    const res = await fetch(...request());
    if (!res.ok) throw new Error(await errorOf(res));
    const prompt = $("prompt").value;
    await readEvents(res, (e) => {
      if (e.type === "error") throw new Error(e.error?.message ?? "generation failed");
      if (!e.type?.endsWith(".completed")) return;
      made++;
      const url = e.url || "data:image/" + (e.output_format ?? "png") + ";base64," + e.b64_json;
      $("results").prepend(card(url, prompt, $("model").value + (e.size ? " · " + e.size : "")));
    });
    say(status, made + " image" + (made === 1 ? "" : "s") + " in " + seconds() + " s");
  } catch (err) {
    say(status, err.message, true);
  } finally {
    clearInterval(timer);
    $("elapsed").textContent = "";
    go.disabled = false;
  }
});

async function loadGallery(reset) {
  const where = $("gallery-status");
  if (reset) $("gallery").replaceChildren();
  // The next page starts after the last card still shown: a deleted one is no place to start.
  const after = $("gallery").lastElementChild?.dataset.id;
  const query = "?limit=12" + (after ? "&after=" + encodeURIComponent(after) : "");
  const res = await fetch("/v1/images" + query, { headers: headers() });
  if (!res.ok) return say(where, await errorOf(res), true);
  const page = await res.json();
  for (const image of page.data) {
    const when = new Date(image.created * 1000).toLocaleString();
    const meta = [image.model, image.size, when].filter(Boolean).join(" · ");
    const caption = image.prompt ?? image.id;
    const remove = button("Delete", "Delete " + caption, async () => {
      const done = await fetch("/v1/images/" + image.id, { method: "DELETE", headers: headers() });
      if (!done.ok) return say(where, await errorOf(done), true);
      figure.remove();
      say(where, "Deleted.");
    });
    const figure = card(image.url, caption, meta, [remove]);
    figure.dataset.id = image.id;
    $("gallery").append(figure);
  }
  $("more").hidden = !page.has_more;
  say(where, $("gallery").childElementCount === 0 ? "No images yet." : "");
}

function show(view) {
  const gallery = view === "gallery";
  $("generate-view").hidden = gallery;
  $("gallery-view").hidden = !gallery;
  $("show-generate").setAttribute("aria-pressed", String(!gallery));
  $("show-gallery").setAttribute("aria-pressed", String(gallery));
  if (gallery) loadGallery(true);
}

key.addEventListener("change", () => {
  localStorage.setItem(KEY, key.value.trim());
  loadModels();
});
$("model").addEventListener("change", showInputs);
$("show-generate").addEventListener("click", () => show("generate"));
$("show-gallery").addEventListener("click", () => show("gallery"));
$("more").addEventListener("click", () => loadGallery(false));
loadModels();
`;
