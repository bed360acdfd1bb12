import { type TransportFactory, transportConformanceCases } from 'raft-core/testing';
import { describe, it } from 'vitest';
import { WsTransport } from '../src/index.js';
import { recordingLogger } from './support/helpers.js';

/** Transports on 127.0.0.1:0, bound first so that every peer knows every port. */
const factory: TransportFactory = async (ids) => {
  const made: WsTransport[] = [];
  const ports = new Map<string, number>();
  const make = (id: string, port: number): WsTransport => {
    const t = new WsTransport({
      nodeId: id,
      clusterId: 'conformance',
      listen: `127.0.0.1:${port}`,
      secret: 'conformance secret',
      backoffInitialMs: 10,
      backoffMaxMs: 100,
      logger: recordingLogger(id),
    });
    made.push(t);
    return t;
  };
  const transports = new Map<string, WsTransport>();
  for (const id of ids) {
    const t = make(id, 0);
    ports.set(id, (await t.listen()).port);
    transports.set(id, t);
  }
  const addPeers = (id: string, t: WsTransport): void => {
    for (const [other, port] of ports) if (other !== id) t.addPeer(other, `127.0.0.1:${port}`);
  };
  for (const [id, t] of transports) addPeers(id, t);
  return {
    transports,
    restart: async (id) => {
      const t = make(id, ports.get(id)!);
      addPeers(id, t);
      await t.listen();
      return t;
    },
    cleanup: async () => {
      await Promise.all(made.map((t) => t.stop()));
      for (const t of made) {
        const s = t.stats();
        if (s.timers + s.inboundConnections + s.outboundConnections + s.pendingConnections !== 0) {
          throw new Error(`WsTransport leaked after stop(): ${JSON.stringify(s)}`);
        }
      }
    },
  };
};

describe('WsTransport conformance', () => {
  for (const c of transportConformanceCases(factory)) it(c.name, c.run);
});
