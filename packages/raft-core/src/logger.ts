/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * `Logger` is the injected, structured logger. raft-core never touches `console`.
 * Messages follow etcd's style ("1 became leader at term 3").
 */
export interface Logger {
  /** Detail for debugging (per-message and per-tick events). */
  debug(msg: string, fields?: LogFields): void;
  /** Normal state changes (elections, leader changes, membership). */
  info(msg: string, fields?: LogFields): void;
  /** Something is wrong but the node carries on (refused peers, dropped messages). */
  warn(msg: string, fields?: LogFields): void;
  /** A failure that needs attention (a port failed, the node stops). */
  error(msg: string, fields?: LogFields): void;
}

const noop = (): void => {};

/** A logger that discards everything (the default). */
export const noopLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
});
