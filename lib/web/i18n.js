/**
 * The playground's words and how they are put on the page: the language is the one saved in
 * localStorage, else the browser's (Simplified Chinese for any `zh`), else English. Static text
 * carries `data-t` (and `data-t-placeholder`, `data-t-label`); text made later carries its key and
 * values too (`data-v`), and errors their whole problem (`data-err`), so a switch of language
 * re-words everything already shown.
 */
import { STRINGS } from "./strings.js";

const SAVED = "sf-image-gateway.lang";
const saved = localStorage.getItem(SAVED);
let lang = saved in STRINGS
  ? saved
  : String(navigator.language ?? "en").toLowerCase().startsWith("zh")
  ? "zh-CN"
  : "en";

export function language() {
  return lang;
}

/** The words for `key` in the page's language, `{name}` replaced from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w{1,20})\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Puts the words of `key` into `el`, remembered for a switch of language. */
export function say(el, key, vars) {
  el.dataset.t = key;
  if (vars) el.dataset.v = JSON.stringify(vars);
  else delete el.dataset.v;
  el.textContent = t(key, vars);
}

/** Puts the words of `key` into `el`'s `aria-label`, remembered for a switch of language. */
export function label(el, key, vars) {
  el.dataset.tLabel = key;
  if (vars) el.dataset.v = JSON.stringify(vars);
  el.setAttribute("aria-label", t(key, vars));
}

/** Error words for a problem (see `problem` in api.js), with the request id for support. */
export function words({ key, vars }) {
  return t(key, vars) + (vars.id ? " " + t("err.id", vars) : "");
}

/** The element that shows errors about `field`. */
const errorOf = (field) => document.getElementById(field + "-error");

/** Shows a problem beside the control it concerns (`run`: beside Generate). */
export function fault(field, problem) {
  const el = errorOf(field) ?? errorOf("run");
  el.dataset.err = JSON.stringify(problem);
  el.textContent = words(problem);
  el.hidden = false;
  const control = document.getElementById(field);
  control?.setAttribute("aria-invalid", "true");
}

/** Clears the problem shown about `field`, once it is fixed. */
export function clear(field) {
  const el = errorOf(field);
  if (!el) return;
  el.hidden = true;
  el.textContent = "";
  delete el.dataset.err;
  document.getElementById(field)?.removeAttribute("aria-invalid");
}

/** Words every element under `root` in the page's language. */
export function apply(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-t]")) {
    el.textContent = t(el.dataset.t, el.dataset.v ? JSON.parse(el.dataset.v) : undefined);
  }
  for (const el of root.querySelectorAll("[data-t-placeholder]")) {
    el.placeholder = t(el.dataset.tPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-t-label]")) {
    const vars = el.dataset.v ? JSON.parse(el.dataset.v) : undefined;
    el.setAttribute("aria-label", t(el.dataset.tLabel, vars));
  }
  for (const el of root.querySelectorAll("[data-err]")) {
    el.textContent = words(JSON.parse(el.dataset.err));
  }
}

/** Switches the language, remembers it in this browser, and re-words the page. */
export function setLanguage(next) {
  if (!(next in STRINGS)) return;
  lang = next;
  localStorage.setItem(SAVED, next);
  apply();
}
