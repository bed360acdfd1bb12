import type { Entry, Index } from '../../types.js';
import {
  type ChainState,
  InvariantViolation,
  mixBytes,
  mixNumber,
  type NodeView,
} from './types.js';

/**
 * Log Matching (§5.3, Figure 3): if two logs contain an entry with the same index and term,
 * the logs are identical in all entries up through that index. Checked incrementally with a
 * chain hash per index: every (index, term) ever seen on any node maps to exactly one prefix
 * hash — which also covers "a leader creates at most one entry per index in a term".
 */
export class LogMatching {
  private readonly seen = new Map<string, number>();
  readonly chains = new Map<string, ChainState>();

  /** Updates `view`'s chain hashes and checks them; returns the node's chain state. */
  check(view: NodeView, compactedHash: (i: Index) => number | undefined): ChainState {
    const key = `${view.id}#${view.incarnation}`;
    let chain = this.chains.get(key);
    if (chain === undefined) {
      chain = { hashes: [0], terms: [0], validTo: 0, snapIndex: 0 };
      this.chains.set(key, chain);
    }
    const log = view.log;
    const dirty = log.takeDirtyFrom();
    if (dirty - 1 < chain.validTo) chain.validTo = Math.max(0, dirty - 1);
    const snap = log.snapshotIndex();
    if (snap > chain.snapIndex) {
      // Up to the snapshot the log is now the committed prefix (a restored snapshot replaces
      // whatever uncommitted entries were there): re-derive it from the committed record.
      chain.validTo = Math.min(chain.validTo, chain.snapIndex);
      chain.snapIndex = snap;
    }
    const last = log.lastIndex();
    if (chain.validTo > last) chain.validTo = last;
    const first = log.firstIndex();
    for (let i = chain.validTo + 1; i <= last; i++) {
      let h: number;
      let t: number;
      if (i < first) {
        // Compacted on this node: committed entries, known from the global record.
        const ch = compactedHash(i);
        if (ch === undefined)
          throw new InvariantViolation(
            'log matching',
            `${view.id} compacted ${i} which was never committed`,
          );
        h = ch;
        t = log.snapshotIndex() === i ? log.snapshotTerm() : -1;
      } else {
        const e = log.entry(i) as Entry;
        t = e.term;
        h = mixBytes(mixNumber(mixNumber(chain.hashes[i - 1] as number, e.term), e.type), e.data);
      }
      chain.hashes[i] = h;
      chain.terms[i] = t;
      if (t >= 0) {
        const k = `${i}:${t}`;
        const prev = this.seen.get(k);
        if (prev === undefined) this.seen.set(k, h);
        else if (prev !== h) {
          throw new InvariantViolation(
            'log matching (§5.3)',
            `${view.id} has an entry at index ${i} term ${t} whose log prefix differs from another log's`,
          );
        }
      }
    }
    chain.validTo = last;
    chain.hashes.length = last + 1;
    chain.terms.length = last + 1;
    return chain;
  }

  forget(id: string, incarnation: number): void {
    this.chains.delete(`${id}#${incarnation}`);
  }
}
