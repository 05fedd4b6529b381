/**
 * The pool of Web Workers that convert images, so that a conversion (hundreds of milliseconds of
 * WebAssembly) never holds the event loop that serves every other request.
 *
 * Bounded everywhere: at most min(CPUs, `workers`) workers, started when work needs them; at most
 * `queue` jobs waiting, past which a job is refused at once with a 503 and `Retry-After`; an image
 * whose header declares more than `maxPixels` refused with a 422 before any worker decodes it; each
 * job given `timeoutMs`, after which its worker is terminated (WebAssembly cannot be interrupted
 * otherwise). Each worker runs one conversion and is ended, which returns its codecs' memory; a
 * worker that crashes or times out is dropped too, and its job fails with a 500. The next job
 * starts a fresh worker. Buffers are transferred both ways, not copied.
 *
 * Where no Web Worker can start at all (unverified on Deno Deploy), the same jobs run on this
 * thread (`inline_worker.ts`), one at a time and still under the queue's bound, but with neither
 * timeouts (nothing could stop them) nor memory returned (the codecs stay loaded here).
 *
 * @module
 */
import { GatewayError, ServerBusyError } from "../errors.ts";
import type { CompiledCodecs } from "./codecs.ts";
import type { Converted } from "./convert.ts";
import type { WorkerReply, WorkerRequest } from "./convert_job.ts";
import { InlineWorker, type WorkerLike } from "./inline_worker.ts";
import { checkDecodable } from "../image_header.ts";
import type { VariantFormat } from "../variant_kinds.ts";

/** How a pool is sized and bounded. */
export interface ConversionPoolOptions {
  /** Workers at most; the pool never starts more than there are CPUs. */
  workers: number;
  /** Jobs that may wait for a worker; past it, 503. */
  queue: number;
  /** Refuse images whose header declares more pixels than this (422). */
  maxPixels: number;
  /** A job still running after this is abandoned and its worker terminated. */
  timeoutMs: number;
  /** The worker module; tests pass one that crashes or hangs. */
  workerUrl?: string;
  /** Told once when Web Workers cannot start and conversions move to this thread. */
  onInline?: (why: unknown) => void;
}

/** What to make of one image. */
export interface ConversionRequest {
  format: VariantFormat;
  width?: number;
  quality: number;
}

/** How busy the pool is, for tests and metrics. */
export interface PoolLoad {
  workers: number;
  running: number;
  queued: number;
}

interface Job {
  id: number;
  input: ArrayBuffer;
  request: ConversionRequest;
  resolve(out: Converted): void;
  reject(err: unknown): void;
}

/** A worker and the one job it runs (`#settle` explains why one). */
interface Slot {
  worker: WorkerLike;
  job: Job;
  timer?: ReturnType<typeof setTimeout>;
}

/** Seconds a refused client is asked to wait: about one conversion of a large image. */
const RETRY_AFTER_SECONDS = 1;

const DEFAULT_WORKER = new URL("./convert_worker.ts", import.meta.url).href;

/** The bytes' own buffer when they fill it (then transferred, so detached), else a copy of them. */
function ownBuffer(bytes: Uint8Array<ArrayBuffer>): ArrayBuffer {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return whole ? bytes.buffer : bytes.slice().buffer;
}

/** A bounded pool of conversion workers; {@link ConversionPool.dispose} ends them all. */
export class ConversionPool {
  readonly size: number;
  readonly #options: ConversionPoolOptions;
  readonly #workerUrl: string;
  readonly #slots: Slot[] = [];
  readonly #waiting: Job[] = [];
  /** Codecs compiled by earlier workers, given to each new one (`codecs.ts`). */
  #modules: CompiledCodecs = {};
  #compilations = 0;
  /** Set when `new Worker` failed: jobs then run one at a time on this thread. */
  #inline = false;
  /** Set once a Web Worker has started: a later failure to start one is then not the platform's. */
  #workersStart = false;
  #nextId = 1;
  #disposed = false;

  constructor(options: ConversionPoolOptions) {
    this.#options = options;
    this.#workerUrl = options.workerUrl ?? DEFAULT_WORKER;
    this.size = Math.max(1, Math.min(navigator.hardwareConcurrency || 1, options.workers));
  }

  /** Workers started, jobs running (one each) and jobs waiting. */
  get load(): PoolLoad {
    const running = this.#slots.length;
    return { workers: running, running, queued: this.#waiting.length };
  }

  /** Codec modules compiled by the workers so far: each once, then given to every new worker. */
  get compilations(): number {
    return this.#compilations;
  }

  /**
   * Converts one image. Its bytes' buffer is transferred to the worker (detached here) when the
   * bytes fill it; callers pass bytes they are done with. Throws `UnprocessableImageError` (422)
   * for an image refused by its header, `ServerBusyError` (503) when the queue is full, and a 500
   * `GatewayError` when the worker crashes or times out.
   */
  convert(bytes: Uint8Array<ArrayBuffer>, request: ConversionRequest): Promise<Converted> {
    try {
      if (this.#disposed) throw new ServerBusyError("image conversions are shut down", 5);
      checkDecodable(bytes, this.#options.maxPixels);
      const free = this.#slots.length < this.#capacity;
      if (!free && this.#waiting.length >= this.#options.queue) {
        throw new ServerBusyError(
          `image conversions are at capacity (${this.#capacity} running, ` +
            `${this.#waiting.length} waiting); try again in a moment`,
          RETRY_AFTER_SECONDS,
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<Converted>((resolve, reject) => {
      const input = ownBuffer(bytes);
      this.#waiting.push({ id: this.#nextId++, input, request, resolve, reject });
      this.#dispatch();
    });
  }

  /** Terminates every worker; running and waiting jobs fail with a 503. */
  dispose(): void {
    this.#disposed = true;
    const gone = () => new ServerBusyError("image conversions are shut down", 5);
    for (const slot of this.#slots.splice(0)) {
      clearTimeout(slot.timer);
      slot.worker.terminate();
      slot.job.reject(gone());
    }
    for (const job of this.#waiting.splice(0)) job.reject(gone());
  }

  #dispatch(): void {
    while (this.#waiting.length > 0 && this.#slots.length < this.#capacity) {
      const job = this.#waiting.shift()!;
      let slot: Slot;
      try {
        slot = this.#start(job);
      } catch (err) {
        // A worker that cannot start after others did (threads or descriptors short for a
        // moment): this job is refused as busy, and the next one tries again.
        job.reject(
          new ServerBusyError(
            `no conversion worker could start: ${String(err)}`,
            RETRY_AFTER_SECONDS,
          ),
        );
        continue;
      }
      // On this thread a conversion cannot be interrupted: a timeout would only start the next one
      // beside it, so none is set there.
      if (!this.#inline) {
        slot.timer = setTimeout(() => {
          this.#drop(slot, `the conversion took over ${this.#options.timeoutMs} ms`);
        }, this.#options.timeoutMs);
      }
      const message: WorkerRequest = {
        id: job.id,
        input: job.input,
        job: { ...job.request, maxPixels: this.#options.maxPixels },
        modules: this.#modules,
      };
      slot.worker.postMessage(message, [job.input]);
    }
  }

  /** True once conversions run on this thread, Web Workers having failed to start. */
  get inline(): boolean {
    return this.#inline;
  }

  /** Jobs that may run at once: the workers, or one on this thread. */
  get #capacity(): number {
    return this.#inline ? 1 : this.size;
  }

  /** A fresh worker for `job`, listened to and counted. */
  #start(job: Job): Slot {
    const slot: Slot = { worker: this.#spawn(), job };
    slot.worker.onmessage = ({ data }: MessageEvent<WorkerReply>) => this.#settle(slot, data);
    slot.worker.onerror = (event) => {
      event.preventDefault(); // the worker's failure is the job's, not the gateway's
      this.#drop(slot, `the conversion worker failed: ${event.message}`);
    };
    slot.worker.onmessageerror = () => this.#drop(slot, "the conversion worker's answer was lost");
    this.#slots.push(slot);
    return slot;
  }

  /**
   * A Web Worker; where the very first cannot start (a platform without them), an
   * {@link InlineWorker} from then on. A later failure is passing and is thrown.
   */
  #spawn(): WorkerLike {
    if (this.#inline) return new InlineWorker();
    try {
      const worker = new Worker(this.#workerUrl, { type: "module" }) as WorkerLike;
      this.#workersStart = true;
      return worker;
    } catch (err) {
      if (this.#workersStart) throw err;
      this.#inline = true;
      this.#options.onInline?.(err);
      return new InlineWorker();
    }
  }

  #settle(slot: Slot, reply: WorkerReply): void {
    const job = slot.job;
    // One conversion per worker. A codec's WebAssembly memory grows to the largest image it saw and
    // never shrinks, so a worker kept alive ends up holding every codec's largest heap. Measured in
    // a bare pool of two, 16 conversions of 1328 px photographs: 574 MiB peak with workers kept,
    // 284 MiB with a fresh worker each (given the compiled codecs), in 5.9 s against 6.2 s.
    if (job.id !== reply.id || !this.#retire(slot)) return;
    this.#modules = { ...this.#modules, ...reply.modules };
    this.#compilations += reply.compilations;
    if (reply.ok) {
      job.resolve({ bytes: reply.bytes, width: reply.width, height: reply.height });
    } else {
      job.reject(
        new GatewayError(
          reply.status,
          reply.status < 500 ? "invalid_request_error" : "server_error",
          reply.message,
          { code: reply.code, param: reply.param },
        ),
      );
    }
    this.#dispatch();
  }

  /** Ends a worker that failed or hung; its job fails, and the next job starts a fresh worker. */
  #drop(slot: Slot, why: string): void {
    if (!this.#retire(slot)) return;
    slot.job.reject(new GatewayError(500, "server_error", why, { code: "conversion_failed" }));
    this.#dispatch();
  }

  /** Ends a slot's worker and timer; false if it was already ended (its job is settled). */
  #retire(slot: Slot): boolean {
    const at = this.#slots.indexOf(slot);
    if (at === -1) return false;
    this.#slots.splice(at, 1);
    clearTimeout(slot.timer);
    slot.worker.terminate();
    return true;
  }
}
