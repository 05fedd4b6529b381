/**
 * Many fixed strings found in one pass over a text, in linear time: the search behind redaction
 * (`redaction.ts`), which looks for every key of a pool at once.
 *
 * @module
 */

/**
 * Aho–Corasick: a trie of patterns with failure links. Fed a text one unit at a time, it knows
 * after each unit the longest pattern ending there; a step costs amortised constant time, so a
 * whole text is linear in its length whatever the number of patterns.
 */
export class Automaton {
  readonly #next: Map<number, number>[] = [new Map()];
  /** Where to go on a mismatch: the longest proper suffix that is also a prefix. */
  readonly #fail: number[] = [0];
  /** The longest pattern that ends at each node (through its failure links), 0 for none. */
  readonly #longest: number[] = [0];

  constructor(patterns: Iterable<string>) {
    for (const pattern of patterns) {
      let node = 0;
      for (let i = 0; i < pattern.length; i++) {
        const unit = pattern.charCodeAt(i);
        let child = this.#next[node].get(unit);
        if (child === undefined) {
          child = this.#next.push(new Map()) - 1;
          this.#fail.push(0);
          this.#longest.push(0);
          this.#next[node].set(unit, child);
        }
        node = child;
      }
      this.#longest[node] = Math.max(this.#longest[node], pattern.length);
    }
    // Breadth first, so that every failure target is complete before it is used.
    const queue = [...this.#next[0].values()];
    for (let head = 0; head < queue.length; head++) {
      const node = queue[head];
      for (const [unit, child] of this.#next[node]) {
        const target = this.step(this.#fail[node], unit);
        this.#fail[child] = target;
        this.#longest[child] = Math.max(this.#longest[child], this.#longest[target]);
        queue.push(child);
      }
    }
  }

  /** It has no pattern. */
  get empty(): boolean {
    return this.#next[0].size === 0;
  }

  /** The state after `unit` (a UTF-16 code unit, or any number the patterns were made of). */
  step(state: number, unit: number): number {
    let node = state;
    while (node !== 0 && !this.#next[node].has(unit)) node = this.#fail[node];
    return this.#next[node].get(unit) ?? 0;
  }

  /** Length of the longest pattern that ends in `state`, 0 for none. */
  longest(state: number): number {
    return this.#longest[state];
  }
}
