import { describe, expect, it } from 'vitest';
import {
  type LogFields,
  type Logger,
  type Message,
  RaftNode,
  rateLimitedLogger,
} from '../src/index.js';
import { MemoryLogStorage } from '../src/testing/memory-log-storage.js';
import { MemoryNetwork } from '../src/testing/memory-transport.js';

function recorder(): { logger: Logger; lines: [string, string, LogFields | undefined][] } {
  const lines: [string, string, LogFields | undefined][] = [];
  const rec =
    (level: string) =>
    (msg: string, fields?: LogFields): void => {
      lines.push([level, msg, fields]);
    };
  return {
    lines,
    logger: { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') },
  };
}

describe('rateLimitedLogger', () => {
  it('logs a repeated identical warning once per interval and reports how many it dropped', () => {
    let t = 1_000;
    const { logger, lines } = recorder();
    const log = rateLimitedLogger(logger, { intervalMs: 10_000, now: () => t });
    for (let i = 0; i < 100; i++) {
      log.warn('cannot connect to peer b: authentication failed', { attempt: i });
      t += 50; // a retry every 50 ms for 5 s
    }
    expect(lines).toEqual([
      ['warn', 'cannot connect to peer b: authentication failed', { attempt: 0 }],
    ]);
    t = 11_000;
    log.warn('cannot connect to peer b: authentication failed', { attempt: 100 });
    expect(lines).toHaveLength(2);
    expect(lines[1]?.[1]).toBe(
      'cannot connect to peer b: authentication failed (99 more in the last 10 s)',
    );
    expect(lines[1]?.[2]).toEqual({ attempt: 100, suppressed: 99 });
  });

  it('keeps distinct messages and levels apart, and never limits debug or info', () => {
    const { logger, lines } = recorder();
    const log = rateLimitedLogger(logger, { now: () => 0 });
    log.warn('a');
    log.warn('b');
    log.error('a');
    log.warn('a');
    for (let i = 0; i < 3; i++) {
      log.info('connected');
      log.debug('tick');
    }
    expect(lines.map(([level, msg]) => `${level} ${msg}`)).toEqual([
      'warn a',
      'warn b',
      'error a',
      ...Array.from({ length: 3 }, () => ['info connected', 'debug tick']).flat(),
    ]);
  });

  it('forgets the oldest message beyond maxKeys', () => {
    const { logger, lines } = recorder();
    const log = rateLimitedLogger(logger, { now: () => 0, maxKeys: 2 });
    log.warn('a');
    log.warn('b');
    log.warn('c'); // forgets a
    log.warn('a');
    log.warn('c');
    expect(lines.map(([, msg]) => msg)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('passes no fields argument when given none (console would print "undefined")', () => {
    const arities: number[] = [];
    const count = (...args: unknown[]): void => {
      arities.push(args.length);
    };
    const log = rateLimitedLogger({ debug: count, info: count, warn: count, error: count });
    log.debug('a');
    log.info('b');
    log.warn('c');
    log.error('d');
    log.info('e', { x: 1 });
    expect(arities).toEqual([1, 1, 1, 1, 2]);
  });
});

describe('RaftNode logs through a rate-limited logger', () => {
  it('a peer that keeps sending what cannot be stepped costs one warning, not one per message', async () => {
    const { logger, lines } = recorder();
    const net = new MemoryNetwork();
    const node = await RaftNode.start({
      id: 'a',
      bootstrap: ['a'],
      storage: new MemoryLogStorage(),
      transport: net.transport('a'),
      stateMachine: { apply: () => null, snapshot: () => new Uint8Array(), restore: () => {} },
      tickMs: 10,
      logger,
    });
    try {
      const peer = net.transport('x');
      await peer.start(() => {});
      // A message claiming to come from the node itself: stepping it throws a RaftError, which
      // the driver logs and drops.
      for (let i = 0; i < 50; i++)
        peer.send('a', [
          { type: 'MsgHeartbeat', from: 'a', to: 'a', term: 1, commit: 0 } as Message,
        ]);
      await new Promise((r) => setTimeout(r, 100));
      const dropped = lines.filter(([level, msg]) => level === 'warn' && msg.includes('dropped a'));
      expect(dropped).toHaveLength(1);
      await peer.stop();
    } finally {
      await node.stop({ transferLeadership: false });
    }
  });
});
