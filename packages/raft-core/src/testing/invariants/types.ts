import type { RaftLog } from '../../log.js';
import type { ConfState, Index, NodeId, Role, Term } from '../../types.js';

/** What the invariant checks may observe of one live node. */
export interface NodeView {
  /** The node. */
  readonly id: NodeId;
  /** Increments at every restart, so per-lifetime properties reset. */
  readonly incarnation: number;
  /** Its current role. */
  readonly role: Role;
  /** Its current term (in memory). */
  readonly term: Term;
  /** Its in-memory log. */
  readonly log: RaftLog;
  /** The term as last durably saved (monotonic across restarts). */
  readonly durableTerm: Term;
  /** The configuration in force on the node (checked against the log when not `busy`). */
  readonly conf?: ConfState;
  /** A Ready is being handled: the core may be ahead of what is applied. */
  readonly busy?: boolean;
}

/** Thrown by an invariant check. The message names the property and the paper section. */
export class InvariantViolation extends Error {
  constructor(
    /** The name of the violated property (e.g. `election safety`). */
    readonly property: string,
    message: string,
  ) {
    super(`${property} violated: ${message}`);
    this.name = 'InvariantViolation';
  }
}

/** Per-node incremental state shared by the log-based checks. */
export interface ChainState {
  /** `hashes[i]` is the chain hash of the node's log prefix ending at index i. */
  readonly hashes: number[];
  /** `terms[i]` mirrors the entry's term. */
  readonly terms: number[];
  /** Hashes valid for indexes 1..validTo. */
  validTo: Index;
  /** The node's snapshot index when last checked. */
  snapIndex: Index;
}

/** FNV-1a over bytes, folded into a running 32-bit hash. */
export function mixBytes(h: number, data: Uint8Array): number {
  let x = h >>> 0;
  for (let i = 0; i < data.length; i++) {
    x ^= data[i] as number;
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  return x;
}

export function mixNumber(h: number, n: number): number {
  let x = (h ^ (n & 0xffff)) >>> 0;
  x = Math.imul(x, 0x01000193) >>> 0;
  x = (x ^ (n >>> 16)) >>> 0;
  return Math.imul(x, 0x01000193) >>> 0;
}
