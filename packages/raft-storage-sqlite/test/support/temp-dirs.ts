import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `TempDirs` hands out fresh directories under `os.tmpdir()` and removes them all in
 * `removeAll()` (call it from `afterEach`/`afterAll`).
 */
export class TempDirs {
  readonly #dirs = new Set<string>();

  async make(prefix = 'raft-storage-sqlite-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.#dirs.add(dir);
    return dir;
  }

  async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
    this.#dirs.delete(dir);
  }

  async removeAll(): Promise<void> {
    await Promise.all([...this.#dirs].map((d) => this.remove(d)));
  }
}
