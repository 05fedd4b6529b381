/**
 * Generating: the request from the prompt and settings, placeholders at the image's aspect ratio
 * while it is made, the elapsed time, Cancel, and the results of each run grouped with the
 * settings they were made with. Problems are caught before sending where the page can tell
 * (no key, no prompt, an edit model without a picture) and put beside their control.
 */
import { $, apiKey, call, problem } from "./api.js";
import { caps, dims, imageFields, loadModels, state } from "./controls.js";
import { clear, fault, label, say } from "./i18n.js";

let running;

/** The settings of the form as they are now. */
export function settings() {
  const c = caps();
  const value = (id) => ($(id + "-field")?.hidden ? "" : $(id).value.trim());
  return {
    model: $("model").value,
    prompt: $("prompt").value.trim(),
    size: value("size"),
    n: Math.min(4, Math.max(1, Number($("n").value) || 1)),
    seed: value("seed"),
    negative: value("negative"),
    steps: value("steps"),
    guidance: value("guidance"),
    guidanceParam: c.guidance?.param,
  };
}

function body(s) {
  const out = { model: s.model, prompt: s.prompt, n: s.n };
  if (s.size) out.size = s.size;
  if (s.seed) out.seed = Number(s.seed);
  if (s.negative) out.negative_prompt = s.negative;
  if (s.steps) out.num_inference_steps = Number(s.steps);
  if (s.guidance && s.guidanceParam) out[s.guidanceParam] = Number(s.guidance);
  return out;
}

const FIELDS = ["key", "prompt", "model", "images", "seed", "steps", "guidance", "run"];

/** Finds what the page can tell is wrong before anything is sent; focuses the first. */
function check(s) {
  const found = [];
  if (!apiKey()) found.push(["key", "err.no_key"]);
  if (!s.prompt) found.push(["prompt", "err.no_prompt"]);
  if (apiKey() && state.models.length === 0) found.push(["model", "err.no_models"]);
  if (state.inputs.length < caps().input_images.min) found.push(["images", "err.needs_image"]);
  for (const id of ["seed", "steps", "guidance"]) {
    const input = $(id);
    if (!$(id + "-field").hidden && input.value && !input.checkValidity()) {
      found.push([id, "err.range", { min: input.min, max: input.max }]);
    }
  }
  for (const [field, key, vars = {}] of found) fault(field, { key, vars });
  if (found.length > 0) reveal(found[0][0]).focus();
  return found.length === 0;
}

/** The control of `field`, with the folded settings opened when it is inside them (a phone). */
function reveal(field) {
  const control = field === "images" ? $("pick") : $(field);
  if ($("settings").contains(control)) $("settings").open = true;
  return control;
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A run's section: its prompt and settings, then a placeholder per image. */
function runSection(s, ratio) {
  const section = element("section", "run");
  section.setAttribute("aria-label", s.prompt.slice(0, 120));
  const m = [s.model, s.size].filter(Boolean).join(" · ");
  const meta = element("p", "meta", m);
  if (s.seed) say(meta, "run.seed", { m, seed: s.seed });
  const clock = element("p", "meta");
  const grid = element("div", "grid");
  for (let i = 0; i < s.n; i++) {
    const ph = element("div", "ph");
    ph.style.aspectRatio = ratio;
    ph.setAttribute("role", "img");
    label(ph, "placeholder", { i: i + 1, n: s.n });
    grid.append(ph);
  }
  section.append(element("p", "", s.prompt), meta, clock, grid);
  return { section, clock, grid };
}

/** One result: a button that opens the large view, with the seed under it. */
export function resultFigure(item, vars, key = "open.result") {
  const figure = element("figure");
  const button = element("button", "thumb");
  button.type = "button";
  button.item = item;
  label(button, key, vars);
  const img = element("img");
  img.src = item.url;
  img.alt = item.prompt;
  const wh = dims(item.size);
  if (wh) [img.width, img.height] = wh;
  button.append(img);
  const caption = element("figcaption");
  if (item.seed !== undefined) say(caption, "result.seed", { seed: item.seed, size: item.size });
  figure.append(button, caption);
  return figure;
}

/** Runs one generation with the form's settings. */
export async function generate() {
  if (running) return;
  for (const field of FIELDS) clear(field);
  // A list that failed to load (SiliconFlow down) is tried again.
  if (apiKey() && state.models.length === 0) await loadModels();
  const s = settings();
  if (!check(s)) return;
  const wh = dims(s.size) ?? dims(caps().sizes[0]) ?? [1, 1];
  const { section, clock, grid } = runSection(s, `${wh[0]} / ${wh[1]}`);
  $("runs").prepend(section);
  if (matchMedia("(max-width: 52rem)").matches) section.scrollIntoView({ block: "start" });
  const controller = new AbortController();
  running = controller;
  const hadFocus = document.activeElement === $("generate");
  $("generate").hidden = true;
  $("cancel").hidden = false;
  if (hadFocus) $("cancel").focus();
  say($("status"), "status.working");
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  const tick = setInterval(() => say(clock, "status.took", { s: seconds() }), 100);
  let first;
  try {
    const request = { ...body(s), ...(await imageFields()) };
    const res = await call("/v1/images/generations", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
      signal: controller.signal,
    });
    const data = res.status === 200 ? res.body?.data ?? [] : [];
    if (data.length === 0) {
      section.remove();
      const p = problem(res);
      fault(p.field, p);
      say($("status"), "status.failed");
      first = reveal(p.field) ?? undefined;
      // Their focus is elsewhere: take them to the setting.
      if ($("settings").contains(first)) first.focus();
      return;
    }
    const took = seconds();
    const figures = data.map((d, i) =>
      resultFigure(
        {
          url: d.url,
          prompt: s.prompt,
          model: res.body.model ?? s.model,
          size: res.body.size ?? s.size,
          seed: d.seed,
          seconds: took,
          settings: s,
        },
        { i: i + 1, n: data.length, what: s.prompt.slice(0, 100) },
      )
    );
    grid.replaceChildren(...figures);
    first = figures[0].querySelector("button");
    say(clock, "status.took", { s: took });
    say($("status"), data.length === 1 ? "status.one" : "status.many", {
      n: data.length,
      s: took,
    });
    // On a phone the result would land below the fold: bring it into view.
    if (matchMedia("(max-width: 52rem)").matches) first.scrollIntoView({ block: "center" });
  } catch (err) {
    section.remove();
    if (err?.name !== "AbortError") throw err;
    say($("status"), "status.cancelled");
  } finally {
    clearInterval(tick);
    running = undefined;
    const lost = document.activeElement === $("cancel") || document.activeElement === document.body;
    $("cancel").hidden = true;
    $("generate").hidden = false;
    if (lost) (first ?? $("generate")).focus();
  }
}

/** Stops the running generation: the gateway then sends no call not already sent. */
export function cancel() {
  running?.abort();
}
