/**
 * The playground's side of the gateway's API: the key kept in this browser, calls that never
 * throw for an HTTP answer, what an error means in a person's words (and next to which control),
 * and Copy that also works on plain HTTP.
 */
const KEY = "sf-image-gateway.key";
export const $ = (id) => document.getElementById(id);

/** The key typed into the page: kept in this browser's localStorage, sent only to this gateway. */
export function apiKey() {
  return $("key").value.trim();
}

export function saveKey() {
  localStorage.setItem(KEY, apiKey());
}

export function loadKey() {
  $("key").value = localStorage.getItem(KEY) ?? "";
}

/**
 * One call to the gateway: `{ status, body, requestId, retryAfter }`. A network failure is status
 * 0; an abort (Cancel) is thrown as the AbortError it is.
 */
export async function call(path, init = {}) {
  const headers = { authorization: "Bearer " + apiKey(), ...init.headers };
  let res;
  try {
    res = await fetch(path, { ...init, headers });
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    return { status: 0, body: null, requestId: null };
  }
  let body = null;
  try {
    body = await res.json();
  } catch (err) {
    if (err?.name === "AbortError") throw err;
  }
  return {
    status: res.status,
    body,
    requestId: res.headers.get("x-request-id"),
    retryAfter: res.headers.get("retry-after"),
  };
}

/** Which control an API `param` belongs to. */
const FIELDS = {
  prompt: "prompt",
  model: "model",
  seed: "seed",
  num_inference_steps: "steps",
  guidance_scale: "guidance",
  cfg: "guidance",
};

/**
 * What a failed answer means for the person at the page: `{ field, key, vars }`, where `field`
 * names the control the message goes beside (`key`, `prompt`, `model`, `images`, … or `run`).
 * Always the page's own words, in its language, with the request id: the server's message is
 * English and could name the gateway's insides.
 */
export function problem({ status, body, requestId, retryAfter }) {
  const error = body?.error ?? {};
  const code = String(error.code ?? "");
  const at = (field, key, vars = {}) => ({ field, key, vars: { id: requestId ?? "", ...vars } });
  if (status === 0) return at("run", "err.network");
  if (status === 401) return at("key", "err.key");
  if (status === 402 || code === "insufficient_quota") return at("run", "err.balance");
  if (status === 403) return at("run", "err.forbidden");
  if (status === 429) return at("run", "err.rate", { s: retryAfter ?? "20" });
  if (code === "upstream_auth_failed") return at("run", "err.upstream_keys");
  if (code === "upstream_timeout" || status === 504) return at("run", "err.slow");
  if (status === 502 || status === 503) return at("run", "err.down");
  if (code === "content_policy_violation") return at("prompt", "err.policy");
  if (code === "model_not_found") return at("model", "err.model");
  if (status === 413) return at("images", "err.too_large");
  if (status >= 400 && status < 500) {
    // Beside its control, the words need not name it; `size` and others have none.
    const field = /^image\d?$/.test(error.param) ? "images" : FIELDS[error.param] ?? "run";
    return at(field, field === "run" ? "err.rejected" : "err.value");
  }
  return at("run", "err.unknown", { status });
}

/** Shows text in the page's copy box (in `slot`), selected, for Ctrl+C when nothing else works. */
function manualCopy(text, slot) {
  const box = $("copy-box");
  slot.append(box);
  box.hidden = false;
  const field = $("copy-text");
  field.value = text;
  field.focus();
  field.select();
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

/**
 * Copies text: the Clipboard API in a secure context, else (plain HTTP on a LAN) a visible field
 * with the text selected and `execCommand("copy")`. True when the text reached the clipboard.
 */
export async function copyText(text, slot) {
  $("copy-box").hidden = true;
  if (globalThis.isSecureContext && navigator.clipboard) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Refused (no permission, no focus): the field below still lets the person copy.
    }
  }
  return manualCopy(text, slot);
}
