import { RaftError } from '../errors.js';
import type { ConfChange, ConfChangeOp } from '../types.js';

const OPS: readonly ConfChangeOp[] = ['addVoter', 'addLearner', 'removeNode'];

/** Encodes a {@link ConfChange} as the data of a ConfChange log entry (UTF-8 JSON). */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      changes: cc.changes.map((c) => ({ op: c.op, node: c.node })),
      joint: cc.joint === true,
      ...(cc.context !== undefined && { context: cc.context }),
    }),
  );
}

/** Decodes a ConfChange entry's data; throws `RaftError('InvalidArgument')` if malformed. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new RaftError('InvalidArgument', 'malformed conf change entry');
  }
  const o = v as { changes?: unknown; joint?: unknown; context?: unknown };
  if (typeof o !== 'object' || o === null || !Array.isArray(o.changes)) {
    throw new RaftError('InvalidArgument', 'malformed conf change entry');
  }
  const changes = o.changes.map((c: unknown) => {
    const x = c as { op?: unknown; node?: unknown };
    if (typeof x?.node !== 'string' || x.node === '' || !OPS.includes(x.op as ConfChangeOp)) {
      throw new RaftError('InvalidArgument', 'malformed conf change entry');
    }
    return { op: x.op as ConfChangeOp, node: x.node };
  });
  if (o.context !== undefined && typeof o.context !== 'string') {
    throw new RaftError('InvalidArgument', 'malformed conf change entry');
  }
  return {
    changes,
    joint: o.joint === true,
    ...(typeof o.context === 'string' && { context: o.context }),
  };
}
