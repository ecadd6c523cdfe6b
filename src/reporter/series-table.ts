import { generate, sourceTag } from '../compile.js';
import type { Metadata } from '../events/types.js';
import { ensureCapacity } from './growable.js';
import { forEachLabel } from './label-block.js';
import { sortByLabels } from './label-order.js';

/** `resolve` results that are not series indices. */
export const MISSING_TAG = -1;
export const INVALID_TAG = -2;

/** The tag values that every series of a metric gets once the metric is full. */
export const OVERFLOW_TAG_VALUE = '__overflow__';

/**
 * A trie level above the last tag: a prototype-less dictionary object keyed by tag value. V8 finds a string key
 * in one of these faster than `Map.get` does (measured ~25% less per level), and a number finds the entry of its
 * string form (`node[200]` is `node['200']`) without an alias. Only these levels use it: there are few of them
 * (one per distinct prefix), while the last level has an entry per series, where a `Map` costs less memory.
 */
type Branch = { [value: string]: TrieNode };
/** The last level: series index by tag value, plus aliases (`200` next to `'200'`) for non-string values. */
type Leaf = Map<unknown, number>;
type TrieNode = Branch | Leaf;

/**
 * Maps tag-value tuples to dense series indices, for one metric.
 *
 * Lookups walk a trie keyed by each tag's value (see `Branch` and `Leaf`), so an existing series is found
 * without building a key string and without allocating. A series is created once: its tag values and
 * its rendered label block (`route="/cart",status="200"`) are kept, so a scrape never re-escapes labels.
 */
export class SeriesTable {
  /** Indices handed out so far: series live in 0 .. size - 1, some of which may have expired. */
  size = 0;
  /** Series currently held (expired ones excluded). */
  live = 0;
  /** 1 where an index holds a series, 0 once it expired (until reused). */
  alive: Uint8Array = new Uint8Array(8);
  /** Sweep generation in which each series was last recorded to. Recorders and merges write it freely. */
  touched: Uint32Array = new Uint32Array(8);
  /**
   * 1 for a series that never expires, because a bound handle holds its index. A flag of its own rather than a
   * marker value in `touched`, which every recording overwrites: a pin must survive any mix of writers.
   */
  private pinned: Uint8Array = new Uint8Array(8);
  /**
   * When each series was created, in milliseconds since the Unix epoch (0 where the clock read 0: a Worker's at
   * its module's top level). Written once per series, when it is created or its index reused, never on a
   * recording: what protobuf's `created_timestamp` and OpenMetrics' `_created` report.
   */
  created: Float64Array = new Float64Array(8);
  /** Current sweep generation, advanced by `expire`. */
  generation = 1;
  /** Rendered label block of each series, without braces; `''` when it has no labels. */
  readonly labelBlocks: string[] = [];
  /** Index of the overflow series, or -1 while the metric is under its limit. */
  overflowIndex = -1;
  /** Called with the new size whenever a series is created, so stores can grow. */
  onGrow: (size: number) => void = () => {};
  /** Called for each new tag set folded into the overflow series because the metric is full. */
  onOverflow: () => void = () => {};
  /** Called when an expired index is reused, so stores can zero its data. */
  onReset: (index: number) => void = () => {};
  private readonly free: number[] = [];
  /** How many times each index was emptied by expiry; only indices that ever expired are listed. */
  private readonly removals = new Map<number, number>();

  /** Trie root, read by generated recorders (see `trieWalkSource`): a Branch, or a Leaf with one tag. */
  readonly root: TrieNode;
  /** Slow path of a lookup that missed the trie: validates, creates or overflows. */
  readonly miss = (metadata: Metadata): number => this.insertFrom(metadata);
  private readonly arity: number;
  private readonly tagPositions: Map<string, number>;
  private readonly lookup: (metadata: Metadata) => number;
  private sortedOrder: Uint32Array | undefined;
  private orderVersion = 0;

  constructor(
    readonly tagNames: readonly string[],
    private readonly renderLabels: (values: readonly string[]) => string,
    readonly maxSeries: number,
  ) {
    this.arity = tagNames.length;
    this.tagPositions = new Map(tagNames.map((name, position) => [name, position]));
    this.root = this.arity > 1 ? newBranch() : new Map();
    if (this.arity === 0) this.create([]);
    this.lookup = compileLookup(tagNames, this.root, this.miss);
  }

  /**
   * Series index for the tags in `metadata`, creating it on first sight; or MISSING_TAG / INVALID_TAG.
   *
   * The fast path looks tag values up as they are, with no conversion: numbers, booleans and bigints are
   * stored as aliases next to their string form, so `status: 200` finds its series without building `'200'`.
   * Anything else (a missing tag, NaN, an object) misses and is sorted out on the slow path.
   */
  resolve(metadata: Metadata): number {
    return this.lookup(metadata);
  }

  /** Whether index `s` holds a series now. */
  holds(s: number): boolean {
    return s < this.size && this.alive[s] === 1;
  }

  /**
   * Tag values of series `s`, in `tagNames` order (a new array: readers may keep it). They are read back from the
   * label block: keeping them as well cost a tenth of a series' memory, for readers that are off the hot path
   * (expiry, the dashboard, the cluster).
   */
  tagValuesOf(s: number): string[] {
    const values: string[] = new Array(this.arity).fill('');
    forEachLabel(this.labelBlocks[s], (name, value) => {
      const position = this.tagPositions.get(name);
      if (position !== undefined) values[position] = value;
    });
    return values;
  }

  /**
   * Changes whenever index `s` stops holding the series it held, so that a reader that remembered something
   * about `s` (a cluster link, a delta already sent) can tell it now holds another series, or none.
   */
  incarnation(s: number): number {
    return this.removals.get(s) ?? 0;
  }

  /** Series index for explicit tag values (slow path: self-metrics, merges). */
  resolveValues(values: readonly string[]): number {
    if (this.arity === 0) return 0;
    const leaf = this.leafOf(values, false);
    return leaf?.get(values[this.arity - 1]) ?? this.insert(values);
  }

  /**
   * Forgets series not recorded to during the last `generations` sweeps, and starts a new sweep generation.
   * Bound series and the overflow series never expire. Returns how many series expired.
   */
  expire(generations: number): number {
    this.generation++;
    const threshold = this.generation - generations;
    let expired = 0;
    for (let i = 0; i < this.size; i++) {
      if (
        this.alive[i] === 1 &&
        this.pinned[i] === 0 &&
        i !== this.overflowIndex &&
        this.touched[i] < threshold &&
        this.arity > 0
      ) {
        this.remove(i);
        expired++;
      }
    }
    return expired;
  }

  /** Exempts a series from expiry (bound handles hold its index). */
  pin(index: number): void {
    this.pinned[index] = 1;
  }

  /** Series indices ordered by their label block, so every scrape lists series in the same order. */
  order(): Uint32Array {
    const steps = this.orderSteps();
    for (let step = steps.next(); ; step = steps.next()) if (step.done) return step.value;
  }

  /**
   * The same as {@link order}, as a generator that yields while it sorts, so that a streamed scrape of many
   * new series never blocks the event loop for long. The order is cached until a series is added or expires.
   */
  *orderSteps(): Generator<void, Uint32Array> {
    if (this.sortedOrder === undefined) {
      const live = new Uint32Array(this.live);
      let n = 0;
      for (let i = 0; i < this.size; i++) if (this.alive[i] === 1) live[n++] = i;

      const version = this.orderVersion;
      const sorted = yield* sortByLabels(live, this.labelBlocks);
      // Series created or expired while sorting: keep the result for this scrape, sort again next time.
      if (version === this.orderVersion) this.sortedOrder = sorted;
      return sorted;
    }
    return this.sortedOrder;
  }

  private insertFrom(metadata: Metadata): number {
    const raw: unknown[] = [];
    const values: string[] = [];
    for (const name of this.tagNames) {
      const value = metadata[name];
      const key = tagKey(value);
      if (typeof key !== 'string') return key;
      raw.push(value);
      values.push(key);
    }
    const index = this.resolveValues(values);
    // The overflow series gets no aliases: they would let the trie grow past maxSeries.
    if (index !== this.overflowIndex) this.alias(raw, values);
    return index;
  }

  /**
   * Adds the last tag's raw value as a key of its own; branches find numbers by their string form already.
   * Only numbers, booleans and bigints get one: a string that differs from its key (a lone surrogate, repaired)
   * has countless spellings, and each alias would cost memory that `maxSeries` does not bound.
   */
  private alias(raw: readonly unknown[], values: readonly string[]): void {
    const last = this.arity - 1;
    if (typeof raw[last] === 'string') return;
    const leaf = this.leafOf(values, false)!;
    leaf.set(raw[last], leaf.get(values[last])!);
  }

  /** The leaf that holds the last tag of `values`, creating the branches and the leaf on the way if `create`. */
  private leafOf(values: readonly string[], create: boolean): Leaf | undefined {
    let node = this.root;
    for (let i = 0; i < this.arity - 1; i++) {
      const branch = node as Branch;
      let next = branch[values[i]];
      if (next === undefined) {
        if (!create) return undefined;
        next = i === this.arity - 2 ? new Map() : newBranch();
        branch[values[i]] = next;
      }
      node = next;
    }
    return node as Leaf;
  }

  private insert(values: readonly string[]): number {
    // A tag set that reads like the overflow series is that series: two would be one label set on the wire.
    if (values.every((value) => value === OVERFLOW_TAG_VALUE)) return this.overflowSeries();
    if (this.live >= this.maxSeries) {
      // The overflow series is never in the trie, so each event folded into it comes here, off the hot path.
      const index = this.overflowSeries();
      this.onOverflow();
      return index;
    }
    const index = this.create(values);
    this.leafOf(values, true)!.set(values[this.arity - 1], index);
    return index;
  }

  private overflowSeries(): number {
    if (this.overflowIndex < 0) this.overflowIndex = this.create(this.tagNames.map(() => OVERFLOW_TAG_VALUE));
    return this.overflowIndex;
  }

  private create(values: readonly string[]): number {
    this.live++;
    this.sortedOrder = undefined;
    this.orderVersion++;
    const reused = this.free.pop();
    const index = reused ?? this.size++;
    if (reused === undefined) {
      this.alive = ensureCapacity(this.alive, this.size);
      this.touched = ensureCapacity(this.touched, this.size);
      this.pinned = ensureCapacity(this.pinned, this.size);
      this.created = ensureCapacity(this.created, this.size);
    }
    this.created[index] = Date.now();
    this.labelBlocks[index] = this.renderLabels(values);
    this.alive[index] = 1;
    this.touched[index] = this.generation;
    this.pinned[index] = 0;
    if (reused === undefined) this.onGrow(this.size);
    else this.onReset(reused);
    return index;
  }

  private remove(index: number): void {
    this.unlink(this.root, 0, this.tagValuesOf(index), index);
    this.alive[index] = 0;
    this.labelBlocks[index] = '';
    this.removals.set(index, this.incarnation(index) + 1);
    this.free.push(index);
    this.live--;
    this.sortedOrder = undefined;
    this.orderVersion++;
  }

  /** Deletes every key (string form and aliases) that leads only to `index`; true when `node` is left empty. */
  private unlink(node: TrieNode, depth: number, values: string[], index: number): boolean {
    if (depth === this.arity - 1) {
      const leaf = node as Leaf;
      for (const [key, value] of leaf) if (value === index) leaf.delete(key);
      return leaf.size === 0;
    }
    const branch = node as Branch;
    const child = branch[values[depth]];
    if (child !== undefined && this.unlink(child, depth + 1, values, index)) delete branch[values[depth]];
    for (const _ in branch) return false;
    return true;
  }
}

/**
 * Source of the trie walk for `tagNames`: reads each tag of `source` and assigns the series index (or what
 * `miss(source)` returns) to `result`. Expects `root`, `miss` and `branchStep` in scope.
 *
 * A loop over `metadata[names[i]]` is one keyed load that sees every tag name, so V8 turns it megamorphic and it
 * dominates the hot path (measured 3.5× slower at 3 tags, and it boxed doubles). Generated code gives each tag its
 * own named load site, which stays monomorphic for the emitter's metadata shape. Tag names are validated label
 * names, and are quoted anyway.
 */
export function trieWalkSource(tagNames: readonly string[], source: string, result: string): string {
  if (tagNames.length === 0) return `${result} = 0;`;
  const last = tagNames.length - 1;
  const steps = tagNames.map((name, i) => {
    const parent = i === 0 ? 'root' : `n${i}`;
    const value = `v${i + 1}`;
    const step =
      i === last
        ? `${parent}.get(${value})`
        : `(typeof ${value} === 'string' ? ${parent}[${value}] : branchStep(${parent}, ${value}))`;
    return `const ${value} = ${source}[${JSON.stringify(name)}]; const n${i + 1} = ${step}; if (n${i + 1} === undefined) { ${result} = miss(${source}); break walk; }`;
  });
  return `walk: { ${steps.join(' ')} ${result} = n${tagNames.length}; }`;
}

function compileLookup(
  tagNames: readonly string[],
  root: TrieNode,
  miss: (metadata: Metadata) => number,
): (metadata: Metadata) => number {
  const body = `return function lookup(metadata) { ${sourceTag(`lookup ${tagNames.join(',')}`)} let series; ${trieWalkSource(tagNames, 'metadata', 'series')} return series; };`;
  return (
    generate<(metadata: Metadata) => number>(['root', 'miss', 'branchStep'], body, [
      root,
      miss,
      branchStep,
    ]) ?? plainLookup(tagNames, root, miss)
  );
}

/** The trie walk of {@link trieWalkSource} as a loop, for runtimes that refuse code generation. */
function plainLookup(
  tagNames: readonly string[],
  root: TrieNode,
  miss: (metadata: Metadata) => number,
): (metadata: Metadata) => number {
  const last = tagNames.length - 1;
  if (last < 0) return () => 0;
  return (metadata) => {
    let node: TrieNode | number | undefined = root;
    for (let i = 0; i <= last; i++) {
      const value = metadata[tagNames[i]];
      node =
        i === last
          ? (node as Leaf).get(value)
          : typeof value === 'string'
            ? (node as Branch)[value]
            : branchStep(node as Branch, value);
      if (node === undefined) return miss(metadata);
    }
    return node as number;
  };
}

/**
 * A branch lookup for a tag value that is not a string. Numbers, booleans and bigints find the entry of their
 * string form, as `tagKey` makes it: the property key of a number is that same string, and no string is built.
 * Anything else (NaN, an object, a missing tag) is left to the slow path, which never calls user code.
 */
export function branchStep(node: TrieNode, value: unknown): TrieNode | undefined {
  switch (typeof value) {
    case 'number':
      return value - value === 0 ? (node as Branch)[value] : undefined;
    case 'boolean':
      return (node as Branch)[value ? 'true' : 'false'];
    case 'bigint':
      return (node as Branch)[String(value)];
    default:
      return undefined;
  }
}

/**
 * A new, empty branch. Numeric tag values (`status: 404`) are array indices to an object, and V8 would keep them
 * in a flat array as long as the largest one (about 6 KB for a branch of five status codes). Storing an index
 * above 2^29 once marks the object's indices as sparse for good, so they go into a hash table sized to what it
 * holds.
 */
function newBranch(): Branch {
  const branch: Branch = Object.create(null);
  branch[SPARSE_INDEX] = branch;
  delete branch[SPARSE_INDEX];
  return branch;
}
const SPARSE_INDEX = 2 ** 31;

/**
 * The string a tag value is keyed and exported by. Numbers, booleans and bigints are stringified, so
 * `200` and `'200'` are one series (two would render identically and duplicate a series in the exposition).
 * A lone surrogate becomes U+FFFD, as UTF-8 encoding would make it: `'\uD800'`, `'\uDC00'` and `'\uFFFD'` are
 * one series, not three that scrape as one label set.
 */
export function tagKey(value: unknown): string | typeof MISSING_TAG | typeof INVALID_TAG {
  switch (typeof value) {
    case 'string':
      return value.isWellFormed() ? value : value.toWellFormed();
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
