import { describe, expect, it } from 'vitest';
import { parseCli } from '../src/cli.js';
import { Directory } from '../src/members.js';

// What the transport is told to dial, per peer id.
function sink(): {
  wired: Map<string, string>;
  addPeer: (id: string, a: string) => void;
  removePeer: (id: string) => void;
} {
  const wired = new Map<string, string>();
  return {
    wired,
    addPeer: (id, a) => wired.set(id, a),
    removePeer: (id) => wired.delete(id),
  };
}

const cluster = [
  { id: 'a', http: '127.0.0.1:1', peer: '127.0.0.1:1001' },
  { id: 'b', http: '127.0.0.1:2', peer: '127.0.0.1:9002' }, // e.g. a proxy in front of b
];
const fromLog = new Map([['b', JSON.stringify({ peer: '127.0.0.1:1002', http: '127.0.0.1:2' })]]);

describe('Directory peer addresses', () => {
  it('prefers what the log says over --cluster by default', () => {
    const s = sink();
    const d = new Directory('a', cluster, s);
    d.setLearned(fromLog);
    expect(s.wired.get('b')).toBe('127.0.0.1:1002');
  });

  it('keeps the --cluster address with --pin-peers', () => {
    const s = sink();
    const d = new Directory('a', cluster, s, true);
    d.setLearned(fromLog);
    expect(s.wired.get('b')).toBe('127.0.0.1:9002');
    // Members not in --cluster still come from the log.
    d.setLearned(
      new Map([...fromLog, ['c', JSON.stringify({ peer: '127.0.0.1:1003', http: '127.0.0.1:3' })]]),
    );
    expect(s.wired.get('c')).toBe('127.0.0.1:1003');
  });

  it('parses --pin-peers', () => {
    const base = ['--node', 'a', '--http', '127.0.0.1:1', '--cluster', 'a,127.0.0.1:1'];
    expect(parseCli(base, {})).toMatchObject({ pinPeers: false });
    expect(parseCli([...base, '--pin-peers'], {})).toMatchObject({ pinPeers: true });
  });
});
