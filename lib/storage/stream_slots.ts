/**
 * How many reads from storage run at once: each holds a few chunks in flight, so a cap on them
 * bounds the memory any number of anonymous readers can take, and slots given back by readers that
 * stopped reading keep slow clients from starving the others.
 *
 * @module
 */

/**
 * Streams from storage running at once; further readers wait for a slot. Each holds a few chunks
 * in flight, so this bounds the memory of any number of anonymous readers (see docs/performance.md
 * for the measurements behind the number).
 */
export const MAX_STORAGE_STREAMS = 32;

/** A counting semaphore: `acquire()` resolves when a slot is free. */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(count: number) {
    this.#free = count;
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/**
 * A slot is given back once its reader has asked for nothing for this long (a client that stopped
 * reading), and taken again at its next read: slow or stalled clients never keep others waiting.
 */
export const SLOT_IDLE_MS = 1000;

/**
 * `source` read only while holding a slot: taken at a read, kept while the reader keeps reading,
 * given back at the end, on cancel, on an error, or after {@link SLOT_IDLE_MS} without a read.
 */
export function inSlot(
  source: ReadableStream<Uint8Array>,
  slots: Slots,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let held = false;
  let idle: ReturnType<typeof setTimeout> | undefined;
  const release = () => {
    clearTimeout(idle);
    idle = undefined;
    if (held) slots.release();
    held = false;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      clearTimeout(idle);
      if (!held) {
        await slots.acquire();
        held = true;
      }
      try {
        const next = await reader.read();
        if (next.done) {
          release();
          controller.close();
          return;
        }
        controller.enqueue(next.value);
        idle = setTimeout(release, SLOT_IDLE_MS);
      } catch (err) {
        release();
        throw err;
      }
    },
    async cancel(reason) {
      release();
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
