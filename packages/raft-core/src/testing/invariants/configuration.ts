import { applyChange } from '../../confchange/changer.js';
import { decodeConfChange } from '../../confchange/codec.js';
import { configFromConfState, confStateFromConfig } from '../../tracker/progress-tracker.js';
import {
  type ConfState,
  EMPTY_CONF_STATE,
  type Entry,
  EntryType,
  type Index,
} from '../../types.js';
import { InvariantViolation } from './types.js';

/** A stable text form of a configuration (member lists sorted). */
export function confKey(cs: ConfState): string {
  const s = (a: readonly string[]) => [...a].sort().join(',');
  return `v=${s(cs.voters)} l=${s(cs.learners)} o=${s(cs.votersOutgoing)} n=${s(cs.learnersNext)} a=${cs.autoLeave}`;
}

/**
 * Configuration safety (thesis ch. 4): the configuration is a function of the log — every node
 * that has applied index `i` has the configuration the ConfChange entries up to `i` define, and
 * every snapshot at `i` records exactly that one. Ground truth comes from the entries applied
 * anywhere (recorded in log order by the state machine safety check); a node whose configuration
 * went backwards (an older ConfChange applied on top of a newer snapshot) or a snapshot whose
 * configuration is from another index fails here at once, whether or not quorums ever diverge.
 */
export class ConfigurationSafety {
  /** Conf-change points, ascending: (index, configuration from that index on). */
  private readonly points: { index: Index; cs: ConfState; key: string }[] = [
    { index: 0, cs: EMPTY_CONF_STATE, key: confKey(EMPTY_CONF_STATE) },
  ];
  /** Highest index recorded so far. */
  private known: Index = 0;

  /** Called for each index the first time anyone applies it (in ascending index order). */
  onFirstApply(e: Entry): void {
    this.known = Math.max(this.known, e.index);
    if (e.type !== EntryType.ConfChange) return;
    const prev = this.points[this.points.length - 1] as { cs: ConfState };
    let cs = prev.cs;
    try {
      cs = confStateFromConfig(applyChange(configFromConfState(prev.cs), decodeConfChange(e.data)));
    } catch {
      // An invalid change is ignored by every node alike.
    }
    this.points.push({ index: e.index, cs, key: confKey(cs) });
  }

  /** The configuration in force at `index`, if every entry up to it is known. */
  at(index: Index): { cs: ConfState; key: string } | undefined {
    if (index > this.known) return undefined;
    for (let i = this.points.length - 1; i >= 0; i--) {
      const p = this.points[i] as { index: Index; cs: ConfState; key: string };
      if (p.index <= index) return p;
    }
    return undefined;
  }

  /** A node that applied `applied` (and is between Readies) must have that configuration. */
  checkNode(id: string, applied: Index, cs: ConfState): void {
    const want = this.at(applied);
    if (want === undefined || want.key === confKey(cs)) return;
    throw new InvariantViolation(
      'configuration agreement (thesis §4)',
      `${id} applied up to ${applied} with configuration {${confKey(cs)}}, but the log defines {${want.key}} there`,
    );
  }

  /** A snapshot at `index` (saved or restored) must record the configuration at `index`. */
  checkSnapshot(id: string, index: Index, cs: ConfState): void {
    const want = this.at(index);
    if (want === undefined || want.key === confKey(cs)) return;
    throw new InvariantViolation(
      'snapshot configuration (thesis §5.1)',
      `${id} recorded a snapshot at ${index} with configuration {${confKey(cs)}}, but the log defines {${want.key}} there`,
    );
  }
}
