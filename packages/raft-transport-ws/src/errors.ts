import { RaftError } from 'raft-core';

/** Why a {@link WsTransportError} was raised. Switch on this, never on the message text. */
export type WsTransportErrorReason =
  /** A frame could not be decoded: wrong version, truncated, malformed or trailing bytes. */
  | 'Decode'
  /** A message could not be encoded: a field is out of range or a string is not well-formed. */
  | 'Encode'
  /** An address is not `host:port`, `:port` or `[ipv6]:port`. */
  | 'InvalidAddress'
  /** A constructor option or peer id is invalid. */
  | 'InvalidOptions'
  /** The server could not bind its listen address. */
  | 'Listen'
  /** The transport was stopped (it cannot be started again; create a new one). */
  | 'Stopped';

/**
 * `WsTransportError` is the typed failure of raft-transport-ws: a {@link RaftError} with code
 * `'Transport'` and a {@link WsTransportErrorReason}.
 */
export class WsTransportError extends RaftError {
  /** What went wrong (see {@link WsTransportErrorReason}). */
  readonly reason: WsTransportErrorReason;

  constructor(reason: WsTransportErrorReason, message: string, options?: { cause?: unknown }) {
    super('Transport', message, options);
    this.name = 'WsTransportError';
    this.reason = reason;
  }

  /**
   * `isInstance` recognizes a `WsTransportError`, also across duplicate installs of this package
   * (the same guard name as `RaftError.isInstance` and `SqliteStorageError.isInstance`).
   */
  static override isInstance(e: unknown): e is WsTransportError {
    return (
      RaftError.isInstance(e) &&
      e.code === 'Transport' &&
      e.name === 'WsTransportError' &&
      typeof (e as { reason?: unknown }).reason === 'string'
    );
  }

  /** @deprecated Use {@link WsTransportError.isInstance}; `is` will be removed in 1.0. */
  static is(e: unknown): e is WsTransportError {
    return WsTransportError.isInstance(e);
  }
}
