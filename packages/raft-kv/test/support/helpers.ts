import { type ConfChange, type Entry, EntryType, encodeConfChange } from 'raft-core';
import { type CommandMeta, encodeKvCommand, type KvCommand } from '../../src/index.js';

/** fast-check parameters with a printed seed (`SEED=… pnpm vitest run --project raft-kv` replays). */
export function fcParams(name: string, numRuns = 100): { seed: number; numRuns: number } {
  const seed =
    process.env.SEED === undefined
      ? Date.now() ^ (Math.random() * 2 ** 31)
      : Number(process.env.SEED);
  console.log(`${name}: SEED=${seed}`);
  return { seed, numRuns };
}

/** A Normal entry carrying `cmd`. */
export function cmdEntry(index: number, cmd: KvCommand, meta: CommandMeta = { time: 0 }): Entry {
  return { index, term: 1, type: EntryType.Normal, data: encodeKvCommand(cmd, meta) };
}

/** A ConfChange entry. */
export function ccEntry(index: number, cc: ConfChange): Entry {
  return { index, term: 1, type: EntryType.ConfChange, data: encodeConfChange(cc) };
}

/** Feeds commands to machines with consecutive indexes. */
export class Feeder {
  index = 0;
  constructor(private readonly apply: (e: Entry) => unknown) {}
  cmd(cmd: KvCommand, meta: CommandMeta = { time: 0 }): unknown {
    return this.apply(cmdEntry(++this.index, cmd, meta));
  }
  entry(make: (index: number) => Entry): unknown {
    return this.apply(make(++this.index));
  }
}
