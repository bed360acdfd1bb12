import { describe, it } from 'vitest';
import { logStorageConformanceCases } from './log-storage-conformance.js';
import { MemoryLogStorage } from './memory-log-storage.js';

describe('MemoryLogStorage conformance', () => {
  // Reopening a MemoryLogStorage is the same object (its state survives close()).
  for (const c of logStorageConformanceCases(async () => ({ storage: new MemoryLogStorage() }))) {
    it(c.name, c.run);
  }
});
