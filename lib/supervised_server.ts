/**
 * Keeps the gateway listening: a supervisor over generations of `Deno.serve` servers on one
 * address. When a generation's accept loop fails (out of file descriptors: "Too many open files"),
 * `Deno.serve`'s `finished` rejects and, unsupervised, the process exits; here the failed
 * generation is shut down, which closes its idle connections and frees their descriptors, and a new
 * one listens in its place, retried with bounded back-off while listening itself fails. It also
 * recycles connections: every `recycleMs` a fresh generation starts listening (`SO_REUSEPORT`) and
 * the previous one shuts down gracefully, so connections idle at that moment (keep-alive waits, a
 * request head trickling in) are closed while requests in flight finish. Deno 2.9's `Deno.serve`
 * has no idle or header timeout of its own.
 *
 * @module
 */
import type { Logger } from "./log.ts";

/** What the entry and the signal handler need of a server: `Deno.HttpServer` has this shape. */
export interface Server {
  readonly addr: Deno.NetAddr;
  /** Settles when the server has stopped: resolves after `shutdown()`, rejects when accepting failed. */
  readonly finished: Promise<void>;
  /** Stops listening, closes idle connections, and resolves when requests in flight are done. */
  shutdown(): Promise<void>;
}

/** How {@link supervise} starts more generations and how often it recycles them. */
export interface SuperviseOptions {
  /** Starts one more generation listening on the first one's address; throws when it cannot. */
  listen: () => Server;
  /** Milliseconds between recycles; 0 never recycles (failed generations are still replaced). */
  recycleMs: number;
  log: Logger;
  /** Back-off of listening again after a failure: the first delay, doubled up to `max`. */
  retryMs?: { first: number; max: number };
  /** Shortest time between two warnings; those in between are counted into the next one. */
  warnEveryMs?: number;
}

// A descriptor is usually free again within milliseconds of the failed generation's idle
// connections closing; 5 s between tries at worst keeps a long shortage from spinning.
const RETRY_MS = { first: 10, max: 5000 };
// Under a connection flood a generation can fail many times a minute: one line a minute is enough.
const WARN_EVERY_MS = 60_000;

// Deno 2.9 rejects `finished` with the message "Error: Too many open files (os error 24)".
const describe = (err: unknown) =>
  (err instanceof Error ? err.message : String(err)).replace(/^Error: /, "");

/**
 * Supervises `first` (already listening) and the generations `options.listen` starts after it.
 * The returned server's `finished` resolves once `shutdown()` has shut every generation down; it
 * never rejects, because accept failures are handled here.
 */
export function supervise(first: Server, options: SuperviseOptions): Server & AsyncDisposable {
  return new Supervisor(first, options);
}

class Supervisor implements Server, AsyncDisposable {
  readonly addr: Deno.NetAddr;
  readonly #options: SuperviseOptions;
  readonly #retry: { first: number; max: number };
  readonly #warnEveryMs: number;
  /** Every generation not yet shut down, with its shutdown once one was asked for. */
  readonly #live = new Map<Server, Promise<void> | undefined>();
  /** The generation taking new connections; `undefined` while listening again after a failure. */
  #current: Server | undefined;
  #stopped: Promise<void> | undefined;
  #recycleTimer: ReturnType<typeof setInterval> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #lastWarnAt = -Infinity;
  #unwarned = 0;
  readonly #done = Promise.withResolvers<void>();

  constructor(first: Server, options: SuperviseOptions) {
    this.addr = first.addr;
    this.#options = options;
    this.#retry = options.retryMs ?? RETRY_MS;
    this.#warnEveryMs = options.warnEveryMs ?? WARN_EVERY_MS;
    this.#adopt(first);
    if (options.recycleMs > 0) {
      this.#recycleTimer = setInterval(() => this.#recycle(), options.recycleMs);
    }
  }

  get finished(): Promise<void> {
    return this.#done.promise;
  }

  /** Shuts every generation down (each gracefully) and stops recycling and listening again. */
  shutdown(): Promise<void> {
    this.#stopped ??= (async () => {
      clearInterval(this.#recycleTimer);
      clearTimeout(this.#retryTimer);
      this.#current = undefined;
      await Promise.all([...this.#live.keys()].map((server) => this.#retire(server)));
      this.#done.resolve();
    })();
    return this.#stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  #adopt(server: Server): void {
    this.#live.set(server, undefined);
    this.#current = server;
    server.finished.then(
      () => this.#live.delete(server),
      (err) => this.#failed(server, err),
    );
  }

  /** Asks `server` to shut down, once, and forgets it when it has. */
  #retire(server: Server): Promise<void> {
    let shutdown = this.#live.get(server);
    if (shutdown === undefined) {
      // A failed server's shutdown can reject too; there is nothing more to do with it either way.
      shutdown = server.shutdown().catch(() => {}).finally(() => this.#live.delete(server));
      this.#live.set(server, shutdown);
    }
    return shutdown;
  }

  #failed(server: Server, err: unknown): void {
    // Shutting it down closes its idle connections: the descriptors the next generation needs.
    void this.#retire(server);
    if (server !== this.#current || this.#stopped) return;
    this.#current = undefined;
    this.#warn(
      `server: accepting connections failed (${describe(err)}); its idle connections are ` +
        "closed and it listens again (raise the open-file limit: see docs/deploy.md)",
    );
    this.#listenAgain(0);
  }

  #listenAgain(attempt: number): void {
    const delay = Math.min(this.#retry.first * 2 ** attempt, this.#retry.max);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#stopped) return;
      try {
        this.#adopt(this.#options.listen());
        if (attempt > 0) {
          this.#options.log.info(`server: listening again after ${attempt + 1} tries`);
        }
      } catch (err) {
        if (attempt === 0) {
          this.#warn(`server: cannot listen again yet (${describe(err)}); retrying`);
        }
        this.#listenAgain(attempt + 1);
      }
    }, delay);
  }

  /** The next generation listens first, so no connection is refused; then the previous retires. */
  #recycle(): void {
    const previous = this.#current;
    if (!previous || this.#stopped) return;
    let next: Server;
    try {
      next = this.#options.listen();
    } catch (err) {
      this.#warn(`server: idle connections not recycled: cannot listen (${describe(err)})`);
      return;
    }
    this.#adopt(next);
    void this.#retire(previous);
  }

  #warn(line: string): void {
    const now = Date.now();
    if (now - this.#lastWarnAt < this.#warnEveryMs) {
      this.#unwarned++;
      return;
    }
    const more = this.#unwarned > 0 ? ` (${this.#unwarned} more since the last warning)` : "";
    this.#options.log.warn(line + more);
    this.#lastWarnAt = now;
    this.#unwarned = 0;
  }
}
