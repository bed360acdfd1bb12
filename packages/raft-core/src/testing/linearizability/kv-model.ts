import type { Model, Operation, StepResult } from './model.js';

/** `KvGet` reads a key; its output is the value, or `null` when the key is absent. */
export interface KvGet {
  /** Discriminant. */
  readonly op: 'get';
  /** The key read. */
  readonly key: string;
}

/** `KvPut` writes a key unconditionally; its output is `'ok'`. */
export interface KvPut {
  /** Discriminant. */
  readonly op: 'put';
  /** The key written. */
  readonly key: string;
  /** The value written. */
  readonly value: string;
}

/** `KvDelete` removes a key (absent keys read as `null`); its output is `'ok'`. */
export interface KvDelete {
  /** Discriminant. */
  readonly op: 'delete';
  /** The key removed. */
  readonly key: string;
}

/**
 * `KvCas` sets `key` to `to` iff its current value is `from` (`null` = absent); its output is
 * whether it swapped.
 */
export interface KvCas {
  /** Discriminant. */
  readonly op: 'cas';
  /** The key compared and swapped. */
  readonly key: string;
  /** The value it must have (`null`: absent). */
  readonly from: string | null;
  /** The value it gets if it had `from`. */
  readonly to: string;
}

/** `KvInput` is any request to the key-value store. */
export type KvInput = KvGet | KvPut | KvDelete | KvCas;

/**
 * `KvOutput` is any response: a get's value (`string | null`), a write's `'ok'`, a cas's
 * `boolean`, or `undefined` when the outcome is unknown.
 */
export type KvOutput = string | null | boolean | undefined;

/**
 * `KvOperation` is one operation of a KV history, with its output type tied to its request.
 * `output: undefined` with `return: Infinity` records an unknown outcome (the client timed
 * out): the write may have taken effect at any time after `call`, or never. Leave out
 * operations that definitely failed (e.g. rejected with `NotLeader`); they had no effect.
 */
export type KvOperation =
  | Operation<KvGet, string | null | undefined>
  | Operation<KvPut, 'ok' | undefined>
  | Operation<KvDelete, 'ok' | undefined>
  | Operation<KvCas, boolean | undefined>;

/** `KvHistory` is a KV history, as `checkOperations(kvModel, history)` takes it. */
export type KvHistory = readonly KvOperation[];

/** `KvState` is the value of the one key a partition holds (`null` = absent). */
export type KvState = string | null;

function result(ok: boolean, state: KvState): StepResult<KvState> {
  return { ok, state };
}

/**
 * `kvModel` is the sequential specification of a linearizable key-value store, partitioned
 * per key (so its state is a single value).
 *
 * An `undefined` output is accepted in any state: an unknown get observes nothing, and an
 * unknown write is applied as if it took effect where the search places it (placing it last
 * stands for "never").
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case 'get':
        return result(output === undefined || output === state, state);
      case 'put':
        return result(true, input.value);
      case 'delete':
        return result(true, null);
      case 'cas': {
        const swapped = state === input.from;
        return result(output === undefined || output === swapped, swapped ? input.to : state);
      }
    }
  },
  partitionKey: (input) => input.key,
  // A get (even one with an unknown outcome) never writes; a cas known to have failed
  // cannot have written either. An unknown cas may have swapped.
  readOnly: (input, output) => input.op === 'get' || (input.op === 'cas' && output === false),
  describeOperation(input, output) {
    const write = input.op === 'put' || input.op === 'delete';
    const out = output === undefined ? '?' : write ? String(output) : JSON.stringify(output);
    const key = JSON.stringify(input.key);
    switch (input.op) {
      case 'get':
        return `get(${key}) → ${out}`;
      case 'put':
        return `put(${key}, ${JSON.stringify(input.value)}) → ${out}`;
      case 'delete':
        return `delete(${key}) → ${out}`;
      case 'cas':
        return `cas(${key}, ${JSON.stringify(input.from)} → ${JSON.stringify(input.to)}) → ${out}`;
    }
  },
  describeState: (state) => JSON.stringify(state),
};
