/**
 * The gateway's logger: one line per event, passed in like every other dependency so tests can
 * read what was logged (and prove no key ever is).
 *
 * @module
 */
import type { Redactor } from "./redaction.ts";
import { currentRequest, requestSecrets } from "./request_context.ts";

export interface Logger {
  info(line: string): void;
  warn(line: string): void;
  error(line: string, err?: unknown): void;
}

/** Logs to the console. */
export const consoleLogger: Logger = {
  info: (line) => console.log(line),
  warn: (line) => console.warn(line),
  error: (line, err) => (err === undefined ? console.error(line) : console.error(line, err)),
};

/** Control characters (C0, DEL, C1) and the Unicode line separators: each could end a log line. */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * The text with every control character written as an escape (`\n`, `\u001b`), so that text a
 * client chose (a path, a model name) can never start a forged log line or colour a terminal.
 */
export function escapeControl(text: string): string {
  return text.replace(
    CONTROL,
    (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** At most `max` characters of client-chosen text, escaped, with `…` where it was cut. */
export function clip(text: string, max = 200): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return escapeControl(cut);
}

/** A logger whose every line is escaped before `inner` sees it (the error object is not text). */
export function escapingLogger(inner: AccessLogger): AccessLogger {
  const access = inner.access;
  return {
    info: (line) => inner.info(escapeControl(line)),
    warn: (line) => inner.warn(escapeControl(line)),
    error: (line, err) => inner.error(escapeControl(line), err),
    ...(access
      ? {
        access: (record: AccessRecord) =>
          access.call(inner, {
            ...record,
            method: escapeControl(record.method),
            path: escapeControl(record.path),
          }),
      }
      : {}),
  };
}

/**
 * A logger that takes every secret out of each line (and of an error's message and stack) before
 * `inner` sees it: the gateway's own, and the current request's (a pass-through key).
 */
export function redactingLogger(inner: AccessLogger, redactor: Redactor): AccessLogger {
  // One redactor per request's secrets, made on its first line.
  const perRequest = new WeakMap<readonly string[], Redactor>();
  const current = () => {
    const secrets = requestSecrets();
    if (!secrets) return redactor;
    let own = perRequest.get(secrets);
    if (!own) perRequest.set(secrets, own = redactor.with(secrets));
    return own;
  };
  const access = inner.access;
  return {
    info: (line) => inner.info(current().redact(line)),
    warn: (line) => inner.warn(current().redact(line)),
    error: (line, err) => {
      const r = current();
      inner.error(r.redact(line), err === undefined ? err : redactedError(err, r));
    },
    ...(access
      ? {
        access: (record: AccessRecord) =>
          access.call(inner, { ...record, path: current().redact(record.path) }),
      }
      : {}),
  };
}

/** A copy of an error (its cause too) with secrets out of its message and stack. */
function redactedError(err: unknown, r: Redactor, depth = 0): unknown {
  if (!(err instanceof Error)) return r.redact(typeof err === "string" ? err : Deno.inspect(err));
  const cause = err.cause === undefined || depth >= 3
    ? undefined
    : { cause: redactedError(err.cause, r, depth + 1) };
  const copy = new Error(r.redact(err.message), cause);
  copy.name = err.name;
  copy.stack = err.stack === undefined ? undefined : r.redact(err.stack);
  return copy;
}

/** The summary of one answered request: its one access line. */
export interface AccessRecord {
  method: string;
  path: string;
  status: number;
  durationMs: number;
  /** `undelivered` (kept for the client's retry), `redelivered` or `replayed`. */
  delivery?: string;
}

/** A logger that can also write a request's access line in its own format. */
export interface AccessLogger extends Logger {
  access?(record: AccessRecord): void;
}

/** `LOG_FORMAT`: plain lines, or one JSON object per line for log collectors. */
export type LogFormat = "text" | "json";

/** The plain access line: `POST /v1/images/generations 200 812ms`. */
export function accessLine({ method, path, status, durationMs, delivery }: AccessRecord): string {
  return `${method} ${path} ${status} ${durationMs}ms${delivery ? ` ${delivery}` : ""}`;
}

/**
 * The gateway's output format, over `inner` (the console): every line of a request carries its
 * id (`[id] line` as text, `request_id` in JSON), and the access line carries what the request did
 * (model, images, bytes stored, the last upstream status; the prompt only with `LOG_PROMPTS`).
 * JSON lines never carry an error's stack, only its message: stacks are for the text format.
 */
export function formattedLogger(
  inner: Logger,
  format: LogFormat,
  { logPrompts = false }: { logPrompts?: boolean } = {},
): AccessLogger {
  const json = (level: string, fields: Record<string, unknown>) => {
    const request = currentRequest();
    return JSON.stringify({
      time: new Date().toISOString(),
      level,
      ...(request ? { request_id: request.id } : {}),
      ...fields,
    });
  };
  const text = (line: string) => {
    const request = currentRequest();
    return request ? `[${request.id}] ${line}` : line;
  };
  if (format === "json") {
    return {
      info: (line) => inner.info(json("info", { message: line })),
      warn: (line) => inner.warn(json("warn", { message: line })),
      error: (line, err) =>
        inner.error(json("error", {
          message: line,
          ...(err === undefined ? {} : { error: err instanceof Error ? err.message : String(err) }),
        })),
      access: (record) => {
        const request = currentRequest();
        inner.info(json("info", {
          method: record.method,
          path: record.path,
          status: record.status,
          duration_ms: record.durationMs,
          model: request?.model,
          images: request?.images,
          bytes_stored: request?.bytesStored,
          upstream_status: request?.upstreamStatus,
          delivery: record.delivery,
          ...(logPrompts && request?.prompt !== undefined ? { prompt: request.prompt } : {}),
        }));
      },
    };
  }
  return {
    info: (line) => inner.info(text(line)),
    warn: (line) => inner.warn(text(line)),
    error: (line, err) => inner.error(text(line), err),
    access: (record) => {
      const request = currentRequest();
      const prompt = logPrompts && request?.prompt !== undefined
        ? ` prompt=${JSON.stringify(request.prompt)}`
        : "";
      inner.info(text(`${accessLine(record)}${prompt}`));
    },
  };
}
