/**
 * `SortedMap` is a persistent (path-copying) B+tree from string keys to string values, ordered
 * by JavaScript's string order (UTF-16 code units).
 *
 * `freeze()` returns the current root in O(1) as an immutable point-in-time view; later writes
 * copy the nodes on their path instead of changing them. Between two `freeze()` calls, nodes
 * created since the last freeze are owned by the map and are updated in place (the
 * "transient" technique of Clojure and Immutable.js), so writes cost a plain B+tree's unless a
 * snapshot is pending.
 *
 * Invariants: every node holds at most `MAX` entries; every non-root node at least `MIN`;
 * `Branch.keys[i]` is the smallest key under `children[i]`; all leaves are at the same depth.
 */

const MAX = 64;
const MIN = 16;

/** A leaf: `keys[i]` maps to `vals[i]`, keys strictly increasing. */
export class Leaf {
  constructor(
    public owner: number,
    public keys: string[],
    public vals: string[],
  ) {}
}

/** An inner node: `keys[i]` is the smallest key under `children[i]`. */
export class Branch {
  constructor(
    public owner: number,
    public keys: string[],
    public children: Node[],
  ) {}
}

export type Node = Leaf | Branch;

/** A frozen view: never mutated again. */
export interface FrozenMap {
  readonly root: Node | null;
  readonly size: number;
}

/** First index `i` with `keys[i] >= key` (`keys.length` if none). */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The child of a branch that may hold `key`: the last `i` with `keys[i] <= key`, or 0. */
function childIndex(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : lo - 1;
}

let nextOwner = 1;

export class SortedMap {
  private root: Node | null = null;
  private count = 0;
  /** Nodes with this owner were created after the last freeze and may be changed in place. */
  private owner = nextOwner++;
  /** Scratch results of the recursive writers (avoids allocating tuples per call). */
  private split: Node | null = null;
  private prev: string | undefined = undefined;

  get size(): number {
    return this.count;
  }

  /** An O(1) point-in-time view; afterwards every node reachable from it is immutable. */
  freeze(): FrozenMap {
    this.owner = nextOwner++;
    return { root: this.root, size: this.count };
  }

  /** The current root, for a synchronous read (a `Cursor` over it dies at the next write). */
  live(): Node | null {
    return this.root;
  }

  /** Replaces the content with a frozen view (or builds from it: nodes stay shared). */
  static from(view: FrozenMap): SortedMap {
    const m = new SortedMap();
    m.root = view.root;
    m.count = view.size;
    return m;
  }

  get(key: string): string | undefined {
    let n = this.root;
    if (n === null) return undefined;
    while (n instanceof Branch) n = n.children[childIndex(n.keys, key)] as Node;
    const i = lowerBound(n.keys, key);
    return n.keys[i] === key ? n.vals[i] : undefined;
  }

  /** Sets `key` to `value`; returns the previous value. */
  set(key: string, value: string): string | undefined {
    if (this.root === null) {
      this.root = new Leaf(this.owner, [key], [value]);
      this.count = 1;
      return undefined;
    }
    this.prev = undefined;
    this.split = null;
    const r = this.insert(this.root, key, value);
    const s = this.split as Node | null;
    this.root =
      s === null ? r : new Branch(this.owner, [r.keys[0] as string, s.keys[0] as string], [r, s]);
    this.split = null;
    return this.prev;
  }

  /** Deletes `key`; returns the value it had. */
  delete(key: string): string | undefined {
    if (this.root === null) return undefined;
    this.prev = undefined;
    let r: Node | null = this.remove(this.root, key);
    if (this.prev === undefined) return undefined;
    if (r instanceof Branch && r.children.length === 1) r = r.children[0] as Node;
    else if (r.keys.length === 0) r = null;
    this.root = r;
    return this.prev;
  }

  private editable<N extends Node>(n: N): N {
    if (n.owner === this.owner) return n;
    if (n instanceof Leaf) return new Leaf(this.owner, n.keys.slice(), n.vals.slice()) as N;
    return new Branch(this.owner, n.keys.slice(), (n as Branch).children.slice()) as N;
  }

  private insert(node: Node, key: string, value: string): Node {
    if (node instanceof Leaf) {
      const i = lowerBound(node.keys, key);
      if (node.keys[i] === key) {
        this.prev = node.vals[i];
        if (this.prev === value) return node;
        const n = this.editable(node);
        n.vals[i] = value;
        return n;
      }
      const n = this.editable(node);
      n.keys.splice(i, 0, key);
      n.vals.splice(i, 0, value);
      this.count++;
      if (n.keys.length > MAX) {
        const h = n.keys.length >>> 1;
        this.split = new Leaf(this.owner, n.keys.splice(h), n.vals.splice(h));
      }
      return n;
    }
    const i = childIndex(node.keys, key);
    const child = node.children[i] as Node;
    const c = this.insert(child, key, value);
    const s = this.split as Node | null;
    // NB: an owned child changes in place, so identity alone does not prove its min key kept.
    if (c === child && s === null && node.keys[i] === c.keys[0]) return node;
    this.split = null;
    const n = this.editable(node);
    n.children[i] = c;
    n.keys[i] = c.keys[0] as string;
    if (s !== null) {
      n.children.splice(i + 1, 0, s);
      n.keys.splice(i + 1, 0, s.keys[0] as string);
      if (n.children.length > MAX) {
        const h = n.children.length >>> 1;
        this.split = new Branch(this.owner, n.keys.splice(h), n.children.splice(h));
      }
    }
    return n;
  }

  /** Returns the node without `key` (maybe underfull); `this.prev` is undefined if absent. */
  private remove(node: Node, key: string): Node {
    if (node instanceof Leaf) {
      const i = lowerBound(node.keys, key);
      if (node.keys[i] !== key) return node;
      this.prev = node.vals[i];
      const n = this.editable(node);
      n.keys.splice(i, 1);
      n.vals.splice(i, 1);
      this.count--;
      return n;
    }
    const i = childIndex(node.keys, key);
    const c = this.remove(node.children[i] as Node, key);
    if (this.prev === undefined) return node;
    const n = this.editable(node);
    if (c.keys.length === 0) {
      n.children.splice(i, 1);
      n.keys.splice(i, 1);
      return n;
    }
    n.children[i] = c;
    n.keys[i] = c.keys[0] as string;
    if (c.keys.length < MIN && n.children.length > 1) this.rebalance(n, i === 0 ? 0 : i - 1);
    return n;
  }

  /** Merges or evens out `parent.children[l]` and `[l + 1]`. */
  private rebalance(parent: Branch, l: number): void {
    const a = this.editable(parent.children[l] as Node);
    const b = this.editable(parent.children[l + 1] as Node);
    parent.children[l] = a;
    parent.children[l + 1] = b;
    const total = a.keys.length + b.keys.length;
    if (total <= MAX) {
      a.keys.push(...b.keys);
      if (a instanceof Leaf) a.vals.push(...(b as Leaf).vals);
      else (a as Branch).children.push(...(b as Branch).children);
      parent.children.splice(l + 1, 1);
      parent.keys.splice(l + 1, 1);
      return;
    }
    const want = total >>> 1;
    if (a.keys.length > want) {
      const k = a.keys.length - want;
      b.keys.unshift(...a.keys.splice(want, k));
      if (a instanceof Leaf) (b as Leaf).vals.unshift(...a.vals.splice(want, k));
      else (b as Branch).children.unshift(...(a as Branch).children.splice(want, k));
    } else {
      const k = want - a.keys.length;
      a.keys.push(...b.keys.splice(0, k));
      if (a instanceof Leaf) a.vals.push(...(b as Leaf).vals.splice(0, k));
      else (a as Branch).children.push(...(b as Branch).children.splice(0, k));
    }
    parent.keys[l + 1] = b.keys[0] as string;
  }
}

/**
 * Builds a tree from strictly increasing `keys` and their `vals` in O(n), every node between
 * 3/4 full and full.
 */
export function buildSorted(keys: string[], vals: string[]): FrozenMap {
  if (keys.length === 0) return { root: null, size: 0 };
  const owner = nextOwner++;
  const fill = (MAX * 3) >>> 2;
  let level: Node[] = [];
  for (const [lo, hi] of chunks(keys.length, fill)) {
    level.push(new Leaf(owner, keys.slice(lo, hi), vals.slice(lo, hi)));
  }
  while (level.length > 1) {
    const up: Node[] = [];
    for (const [lo, hi] of chunks(level.length, fill)) {
      const children = level.slice(lo, hi);
      up.push(
        new Branch(
          owner,
          children.map((c) => c.keys[0] as string),
          children,
        ),
      );
    }
    level = up;
  }
  return { root: level[0] as Node, size: keys.length };
}

/** Splits `n` items into ⌈n / size⌉ runs whose lengths differ by at most one. */
function chunks(n: number, size: number): [number, number][] {
  const k = Math.ceil(n / size);
  const out: [number, number][] = [];
  for (let j = 0; j < k; j++) out.push([Math.floor((j * n) / k), Math.floor(((j + 1) * n) / k)]);
  return out;
}

/**
 * `Cursor` walks a (frozen or live) tree in key order from a start position. It must not outlive
 * a write to a live tree (a frozen view is always safe).
 */
export class Cursor {
  private readonly path: Node[] = [];
  private readonly idx: number[] = [];
  private leaf: Leaf | null = null;
  private i = 0;

  /** Positions at the first key `>= start` (`> start` when `exclusive`), or the first key. */
  constructor(root: Node | null, start?: string, exclusive = false) {
    if (root === null) return;
    let n: Node = root;
    while (n instanceof Branch) {
      const j = start === undefined ? 0 : childIndex(n.keys, start);
      this.path.push(n);
      this.idx.push(j);
      n = n.children[j] as Node;
    }
    this.leaf = n;
    if (start !== undefined) {
      this.i = lowerBound(n.keys, start);
      if (exclusive && n.keys[this.i] === start) this.i++;
    }
    if (this.i >= n.keys.length) this.nextLeaf();
  }

  /** The current key, or undefined at the end. */
  get key(): string | undefined {
    return this.leaf === null ? undefined : this.leaf.keys[this.i];
  }

  /** The current value (only valid while `key` is defined). */
  get value(): string {
    return (this.leaf as Leaf).vals[this.i] as string;
  }

  next(): void {
    if (this.leaf === null) return;
    if (++this.i >= this.leaf.keys.length) this.nextLeaf();
  }

  private nextLeaf(): void {
    let d = this.path.length - 1;
    while (d >= 0 && (this.idx[d] as number) + 1 >= (this.path[d] as Branch).children.length) d--;
    if (d < 0) {
      this.leaf = null;
      return;
    }
    this.idx[d] = (this.idx[d] as number) + 1;
    let n = (this.path[d] as Branch).children[this.idx[d] as number] as Node;
    this.path.length = d + 1;
    this.idx.length = d + 1;
    while (n instanceof Branch) {
      this.path.push(n);
      this.idx.push(0);
      n = n.children[0] as Node;
    }
    this.leaf = n;
    this.i = 0;
  }
}
