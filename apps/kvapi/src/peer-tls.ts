/**
 * Mutual TLS for the peer links: reads the `--peer-tls-*` PEM files into raft-transport-ws's
 * `tls` option, so peers serve and dial `wss` and verify each other against the CA (the HMAC
 * handshake with `--secret` still runs inside). Unreadable files fail the start with one line.
 */
import { readFileSync } from 'node:fs';
import type { WsTlsOptions } from 'raft-transport-ws';
import type { PeerTlsFiles } from './cli.js';

/** The transport's `tls` option from the three files; throws an Error naming the bad one. */
export function loadPeerTls(files: PeerTlsFiles): WsTlsOptions {
  const read = (flag: string, path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`${flag} ${path}: ${(e as Error).message}`);
    }
  };
  return {
    cert: read('--peer-tls-cert', files.cert),
    key: read('--peer-tls-key', files.key),
    ca: read('--peer-tls-ca', files.ca),
  };
}
