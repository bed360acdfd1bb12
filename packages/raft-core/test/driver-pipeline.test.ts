/**
 * The driver applies committed entries that an earlier Ready made durable while the current
 * Ready's write is still in flight (persistence and apply pipelined), and never applies an entry
 * before this node's own write of it is durable.
 */
import { describe, expect, it } from 'vitest';
import { RaftNode } from '../src/node.js';
import type { StorageWrite } from '../src/ports.js';
import { MemoryLogStorage } from '../src/testing/memory-log-storage.js';
import { MemoryNetwork } from '../src/testing/memory-transport.js';
import type { Entry } from '../src/types.js';

/** Memory storage whose writes of entries can be held until the test releases them. */
class GatedStorage extends MemoryLogStorage {
  holding = false;
  readonly held: { indexes: number[]; release: () => void }[] = [];

  override async save(write: StorageWrite, sync: boolean): Promise<void> {
    if (this.holding && write.entries.length > 0) {
      await new Promise<void>((release) => {
        this.held.push({ indexes: write.entries.map((e) => e.index), release });
      });
    }
    return super.save(write, sync);
  }
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 1));

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (pred()) return;
    await tick();
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('persistence and apply are pipelined', () => {
  it('an entry made durable by an earlier write is applied while the next write is in flight', async () => {
    const storage = new GatedStorage();
    const applied: number[] = [];
    const node = await RaftNode.start({
      id: 'a',
      bootstrap: ['a'],
      storage,
      transport: new MemoryNetwork().transport('a'),
      stateMachine: {
        apply: (e: Entry) => {
          applied.push(e.index);
          return e.index;
        },
        snapshot: () => new Uint8Array(),
        restore: () => {},
      },
      tickMs: 10,
    });
    try {
      node.campaign();
      await node.propose(Uint8Array.of(0));
      storage.holding = true;
      let bDone = false;
      let cDone = false;
      const b = node.propose(Uint8Array.of(1)).then((r) => {
        bDone = true;
        return r;
      });
      await until(() => storage.held.length === 1, "B's write");
      const bIndex = storage.held[0]?.indexes[0] as number;
      // C arrives while B's write is in flight: it goes into the next Ready, with B committed.
      const c = node.propose(Uint8Array.of(2)).then(() => {
        cDone = true;
      });
      c.catch(() => {}); // awaited below; do not report it twice if an assertion fails first
      await tick();
      storage.held[0]?.release();
      await until(() => storage.held.length === 2, "C's write");
      expect(storage.held[1]?.indexes).toEqual([bIndex + 1]);
      // B is durable and committed; C's write is still held. B is applied and answered now.
      await until(() => bDone, 'B to be applied while C is being written');
      expect(await b).toBe(bIndex);
      expect(applied).toContain(bIndex);
      expect(node.status().appliedIndex).toBe(bIndex);
      // C itself is never applied before its own write is durable.
      expect(applied).not.toContain(bIndex + 1);
      expect(cDone).toBe(false);
      storage.holding = false;
      storage.held[1]?.release();
      await c;
      expect(applied.at(-1)).toBe(bIndex + 1);
    } finally {
      storage.holding = false;
      for (const h of storage.held) h.release();
      await node.stop();
    }
  });
});
