import { NotLeaderError, RaftError } from 'raft-core';
import { describe, expect, it } from 'vitest';
import { KvLimitError } from '../src/index.js';

describe('KvLimitError.isInstance', () => {
  it('recognizes KvLimitErrors only, not every RaftError', () => {
    const e = new KvLimitError('value', 10, 11);
    expect(KvLimitError.isInstance(e)).toBe(true);
    expect(RaftError.isInstance(e)).toBe(true);
    expect(KvLimitError.isInstance(new RaftError('InvalidArgument', 'bad key'))).toBe(false);
    expect(KvLimitError.isInstance(new NotLeaderError(null))).toBe(false);
    expect(KvLimitError.isInstance({ limit: 'value', code: 'InvalidArgument' })).toBe(false);
  });
});
