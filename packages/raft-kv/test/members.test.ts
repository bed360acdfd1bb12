import { describe, expect, it } from 'vitest';
import { KvStateMachine } from '../src/index.js';
import { ccEntry, Feeder } from './support/helpers.js';

describe('members from ConfChange entries', () => {
  it('tracks addresses from the log, notifies, and survives snapshots', async () => {
    const sm = new KvStateMachine();
    const seen: [string, string][][] = [];
    const off = sm.onMembersChange((m) => seen.push([...m]));
    const feed = new Feeder((e) => sm.apply(e));
    feed.entry((i) =>
      ccEntry(i, { changes: [{ op: 'addLearner', node: 'd' }], joint: false, context: 'd:7001' }),
    );
    feed.entry((i) => ccEntry(i, { changes: [{ op: 'addVoter', node: 'd' }], joint: false })); // keeps the address
    feed.entry((i) => ccEntry(i, { changes: [{ op: 'addVoter', node: 'e' }], joint: false })); // no address known
    feed.entry((i) =>
      ccEntry(i, { changes: [{ op: 'addVoter', node: 'f' }], joint: false, context: 'f:7001' }),
    );
    expect([...sm.members()]).toEqual([
      ['d', 'd:7001'],
      ['f', 'f:7001'],
    ]);
    feed.entry((i) =>
      ccEntry(i, {
        changes: [
          { op: 'addVoter', node: 'g' },
          { op: 'removeNode', node: 'f' },
        ],
        joint: true,
        context: 'g:7001',
      }),
    );
    expect([...sm.members()]).toEqual([
      ['d', 'd:7001'],
      ['g', 'g:7001'],
    ]);
    expect(seen).toEqual([
      [['d', 'd:7001']],
      [
        ['d', 'd:7001'],
        ['f', 'f:7001'],
      ],
      [
        ['d', 'd:7001'],
        ['g', 'g:7001'],
      ],
    ]);
    expect(sm.appliedIndex).toBe(5);

    const copy = new KvStateMachine();
    const copied: number[] = [];
    copy.onMembersChange((m) => copied.push(m.size));
    copy.restore(await sm.snapshot());
    expect([...copy.members()]).toEqual([...sm.members()]);
    expect(copied).toEqual([2]);

    off();
    sm.onMembersChange(() => {
      throw new Error('listener bug');
    });
    expect(() =>
      feed.entry((i) => ccEntry(i, { changes: [{ op: 'removeNode', node: 'd' }], joint: false })),
    ).not.toThrow();
    expect(seen.length).toBe(3);
    expect([...sm.members()]).toEqual([['g', 'g:7001']]);
  });
});
