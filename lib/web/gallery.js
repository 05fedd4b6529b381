/**
 * The gallery: the key's own images, newest first, as small WebP copies (`/i/{id}.webp?w=256`
 * with a 512 w `srcset`), more pages loaded as the end of the grid comes into view. Delete takes
 * the card away at once with an Undo; the DELETE is sent only when the Undo has gone, since a
 * deleted link breaks every chat that embeds it.
 */
import { $, call, copyText, problem } from "./api.js";
import { clear, fault, label, say } from "./i18n.js";
import { resultFigure } from "./generate.js";
import { toast } from "./viewer.js";

const PAGE = 24;
/** How long Undo is offered before the image is deleted for good. */
const UNDO_MS = 6000;

let loading = false;
let more = false;
let pending;

/** The link of a small WebP copy of the image at `url`, `w` pixels wide. */
function small(url, w) {
  const u = new URL(url, location.href);
  u.pathname = u.pathname.replace(/\.[a-z0-9]{1,5}$/i, ".webp");
  u.search = "?w=" + w;
  return u.href;
}

function card(image) {
  const li = document.createElement("li");
  li.className = "card";
  li.dataset.id = image.id;
  const prompt = image.prompt ?? image.id;
  const item = {
    url: image.url,
    prompt,
    model: image.model,
    size: image.size,
    created: image.created,
  };
  const figure = resultFigure(item, { i: "", n: "", what: prompt.slice(0, 100) }, "open.label");
  const img = figure.querySelector("img");
  img.removeAttribute("width");
  img.removeAttribute("height");
  img.src = small(image.url, 256);
  img.srcset = `${small(image.url, 256)} 256w, ${small(image.url, 512)} 512w`;
  img.sizes = "(max-width: 30rem) 50vw, 12rem";
  img.loading = "lazy";
  const text = document.createElement("p");
  text.textContent = prompt;
  const actions = document.createElement("div");
  actions.className = "actions";
  const link = button("copy.link", prompt, async () => {
    const done = await copyText(image.url, $("copy-slot"));
    toast(done ? "copied.link" : "copy.select");
  });
  const download = document.createElement("a");
  download.className = "btn";
  download.href = image.url;
  download.download = "";
  say(download, "download.short");
  const remove = button("delete", prompt, () => softDelete(li));
  actions.append(link, download, remove);
  li.append(figure.querySelector("button"), text, actions);
  return li;
}

function button(key, about, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  say(b, key);
  // The name says which image ("Delete: a red fox"), and begins with the visible word.
  label(b, key + ".label", { what: about.slice(0, 100) });
  b.addEventListener("click", onClick);
  return b;
}

/** Sends the pending deletion now (another Delete, or the page closing). */
function commit() {
  if (!pending) return;
  const { li } = pending;
  clearTimeout(pending.timer);
  pending = undefined;
  $("toast").hidden = true;
  return call("/v1/images/" + encodeURIComponent(li.dataset.id), {
    method: "DELETE",
    keepalive: true,
  }).then((res) => {
    if (res.status !== 200 && res.status !== 404) failed(problem(res), "gallery.delete_failed");
  });
}

/** A problem beside its cause: the key, else above the grid (kept for a switch of language). */
function failed(p, key = p.key) {
  fault(p.field === "key" ? "key" : "listing", p.field === "key" ? p : { ...p, key });
}

function softDelete(li) {
  commit();
  const grid = $("gallery");
  const next = li.nextElementSibling;
  const siblings = [...grid.children];
  const index = siblings.indexOf(li);
  li.remove();
  const undo = document.createElement("button");
  undo.type = "button";
  say(undo, "undo");
  undo.addEventListener("click", () => {
    clearTimeout(pending?.timer);
    pending = undefined;
    grid.insertBefore(li, next?.isConnected ? next : null);
    $("toast").hidden = true;
    li.querySelector(".thumb").focus();
  });
  pending = {
    li,
    next,
    timer: setTimeout(() => {
      const hadFocus = $("toast").contains(document.activeElement);
      commit();
      if (hadFocus) focusNear(index);
    }, UNDO_MS),
  };
  toast("deleted", undefined, undo);
  undo.focus();
}

function focusNear(index) {
  const cards = $("gallery").children;
  const target = cards[Math.min(index, cards.length - 1)]?.querySelector(".thumb");
  (target ?? $("gallery-title")).focus();
}

/** Loads the first page (`reset`) or the next one. */
export async function loadGallery(reset) {
  if (loading) return;
  loading = true;
  const grid = $("gallery");
  clear("listing");
  // A card deleted at the end would come back in the next page: the server still has it.
  if (reset || (pending && !pending.next?.isConnected)) await commit();
  if (reset) {
    grid.replaceChildren();
    say($("gallery-status"), "gallery.none");
  }
  // The next page starts after the last card shown.
  const after = reset ? undefined : grid.lastElementChild?.dataset.id;
  const query = "?limit=" + PAGE + (after ? "&after=" + encodeURIComponent(after) : "");
  try {
    const res = await call("/v1/images" + query);
    if (res.status !== 200) {
      failed(problem(res));
      more = false;
      return;
    }
    grid.append(...res.body.data.map(card));
    more = res.body.has_more;
    $("more").hidden = !more;
    // A page that does not fill the screen leaves the end in view: the observer will not fire.
    const end = $("more").parentElement.getBoundingClientRect();
    if (more && end.top < innerHeight + 400) setTimeout(() => loadGallery(false));
    if (grid.childElementCount === 0) say($("gallery-status"), "gallery.empty");
    else {
      const n = grid.childElementCount;
      say($("gallery-status"), n === 1 ? "gallery.count1" : "gallery.count", { n });
    }
  } finally {
    loading = false;
  }
}

export function wireGallery() {
  $("more").addEventListener("click", () => loadGallery(false));
  // The grid's end coming into view loads the next page.
  const watch = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && more && !$("gallery-view").hidden) {
      loadGallery(false);
    }
  }, { rootMargin: "400px" });
  watch.observe($("more").parentElement);
  addEventListener("pagehide", () => commit());
}
