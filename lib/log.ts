/**
 * The gateway's logger: one line per event, passed in like every other dependency so tests can
 * read what was logged (and prove no key ever is).
 *
 * @module
 */

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
export function escapingLogger(inner: Logger): Logger {
  return {
    info: (line) => inner.info(escapeControl(line)),
    warn: (line) => inner.warn(escapeControl(line)),
    error: (line, err) => inner.error(escapeControl(line), err),
  };
}
