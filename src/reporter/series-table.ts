import type { Metadata } from '../events/types.js';

/** `resolve` results that are not series indices. */
export const MISSING_TAG = -1;
export const INVALID_TAG = -2;

/** The tag values that every series of a metric gets once the metric is full. */
export const OVERFLOW_TAG_VALUE = '__overflow__';

type TrieNode = Map<string, TrieNode | number>;

/**
 * Maps tag-value tuples to dense series indices, for one metric.
 *
 * Lookups walk a trie of `Map`s keyed by each tag's value, so an existing series is found
 * without building a key string and without allocating. A series is created once: its tag values and
 * its rendered label block (`route="/cart",status="200"`) are kept, so a scrape never re-escapes labels.
 */
export class SeriesTable {
  /** Number of series. Indices run from 0 to `size - 1`. */
  size = 0;
  /** Tag values of each series, in `tagNames` order. */
  readonly tagValues: string[][] = [];
  /** Rendered label block of each series, without braces; `''` when it has no labels. */
  readonly labelBlocks: string[] = [];
  /** Index of the overflow series, or -1 while the metric is under its limit. */
  overflowIndex = -1;
  /** Called with the new size whenever a series is created, so stores can grow. */
  onGrow: (size: number) => void = () => {};
  /** Called once, when the first tag set is folded into the overflow series. */
  onOverflow: () => void = () => {};

  private readonly root: TrieNode = new Map();
  private readonly arity: number;
  private sortedOrder: Uint32Array | undefined;

  constructor(
    readonly tagNames: readonly string[],
    private readonly renderLabels: (values: readonly string[]) => string,
    readonly maxSeries: number,
  ) {
    this.arity = tagNames.length;
    if (this.arity === 0) this.create([]);
  }

  /** Series index for the tags in `metadata`, creating it on first sight; or MISSING_TAG / INVALID_TAG. */
  resolve(metadata: Metadata): number {
    const arity = this.arity;
    if (arity === 0) return 0;
    const names = this.tagNames;
    let node: TrieNode = this.root;
    for (let i = 0; ; i++) {
      const raw = metadata[names[i]];
      const key = typeof raw === 'string' ? raw : tagKey(raw);
      if (typeof key !== 'string') return key;
      const next = node.get(key);
      if (next === undefined) return this.insertFrom(metadata);
      if (i === arity - 1) return next as number;
      node = next as TrieNode;
    }
  }

  /** Series index for explicit tag values (slow path: self-metrics, merges). */
  resolveValues(values: readonly string[]): number {
    if (this.arity === 0) return 0;
    let node: TrieNode = this.root;
    for (let i = 0; i < this.arity; i++) {
      const next = node.get(values[i]);
      if (next === undefined) return this.insert(values);
      if (i === this.arity - 1) return next as number;
      node = next as TrieNode;
    }
    return this.insert(values);
  }

  /** Series indices ordered by their label block, so every scrape lists series in the same order. */
  order(): Uint32Array {
    if (this.sortedOrder === undefined || this.sortedOrder.length !== this.size) {
      const blocks = this.labelBlocks;
      const indices = Array.from({ length: this.size }, (_, i) => i);
      indices.sort((a, b) => (blocks[a] < blocks[b] ? -1 : blocks[a] > blocks[b] ? 1 : 0));
      this.sortedOrder = Uint32Array.from(indices);
    }
    return this.sortedOrder;
  }

  private insertFrom(metadata: Metadata): number {
    const values: string[] = [];
    for (const name of this.tagNames) {
      const key = tagKey(metadata[name]);
      if (typeof key !== 'string') return key;
      values.push(key);
    }
    return this.insert(values);
  }

  private insert(values: readonly string[]): number {
    if (this.size >= this.maxSeries) {
      if (this.overflowIndex < 0) {
        this.overflowIndex = this.create(this.tagNames.map(() => OVERFLOW_TAG_VALUE));
        this.onOverflow();
      }
      return this.overflowIndex;
    }
    const index = this.create(values);
    let node: TrieNode = this.root;
    for (let i = 0; i < this.arity - 1; i++) {
      let next = node.get(values[i]) as TrieNode | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(values[i], next);
      }
      node = next;
    }
    node.set(values[this.arity - 1], index);
    return index;
  }

  private create(values: readonly string[]): number {
    const index = this.size++;
    this.tagValues.push([...values]);
    this.labelBlocks.push(this.renderLabels(values));
    this.sortedOrder = undefined;
    this.onGrow(this.size);
    return index;
  }
}

/**
 * The string a tag value is keyed and exported by. Numbers, booleans and bigints are stringified, so
 * `200` and `'200'` are one series (two would render identically and duplicate a series in the exposition).
 */
function tagKey(value: unknown): string | typeof MISSING_TAG | typeof INVALID_TAG {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? String(value) : INVALID_TAG;
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'undefined':
      return MISSING_TAG;
    default:
      return value === null ? MISSING_TAG : INVALID_TAG;
  }
}
