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
