import type { LogFields, Logger } from '../logger.js';

/** Options of {@link rateLimitedLogger}. */
export interface RateLimitOptions {
  /** A repeated warning or error is logged at most once per this many ms. Default 60,000. */
  readonly intervalMs?: number;
  /** The clock (ms). Default `Date.now`. */
  readonly now?: () => number;
  /** Distinct messages remembered at once (oldest forgotten first). Default 1,000. */
  readonly maxKeys?: number;
}

/**
 * `rateLimitedLogger` wraps `logger` so that a `warn` or `error` whose level and message text
 * equal one logged less than `intervalMs` ago is dropped and counted instead. The next time that
 * message gets through, it carries `suppressed: N` in its fields and a "(N more in …)" suffix.
 * `debug` and `info` pass through unchanged.
 *
 * Why: a misconfigured peer (a wrong secret, another cluster) is retried every few seconds
 * forever, and one warning per attempt would bury every other log line.
 */
export function rateLimitedLogger(logger: Logger, options: RateLimitOptions = {}): Logger {
  const intervalMs = options.intervalMs ?? 60_000;
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 1_000;
  // key → time of the last line logged, and how many were dropped since.
  const seen = new Map<string, { at: number; suppressed: number }>();
  // Forward `fields` only when given: `logger: console` would print a trailing "undefined".
  const call = (level: keyof Logger, msg: string, fields?: LogFields): void => {
    if (fields === undefined) logger[level](msg);
    else logger[level](msg, fields);
  };
  const limited =
    (level: 'warn' | 'error') =>
    (msg: string, fields?: LogFields): void => {
      const key = `${level} ${msg}`;
      const t = now();
      const entry = seen.get(key);
      if (entry !== undefined && t - entry.at < intervalMs) {
        entry.suppressed++;
        return;
      }
      seen.delete(key); // re-inserted below, so the map stays in least-recently-logged order
      if (seen.size >= maxKeys) seen.delete(seen.keys().next().value as string);
      seen.set(key, { at: t, suppressed: 0 });
      const suppressed = entry?.suppressed ?? 0;
      if (suppressed === 0) call(level, msg, fields);
      else
        logger[level](
          `${msg} (${suppressed} more in the last ${Math.round((t - entry!.at) / 1000)} s)`,
          {
            ...fields,
            suppressed,
          },
        );
    };
  return {
    debug: (msg, fields) => call('debug', msg, fields),
    info: (msg, fields) => call('info', msg, fields),
    warn: limited('warn'),
    error: limited('error'),
  };
}
