/**
 * A throwaway PKI for the peer-TLS test: a CA and one certificate for 127.0.0.1 (serverAuth and
 * clientAuth), made with the `openssl` binary in a temp dir.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when an `openssl` binary can be run. */
export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** Paths of the PEM files, and `cleanup()` to remove them. */
export interface PkiFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  cleanup(): void;
}

export function makePkiFiles(): PkiFiles {
  const dir = mkdtempSync(join(tmpdir(), 'kvapi-pki-'));
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
  );
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=kvapi test CA',
  );
  run('req', ...ec, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=kvapi node');
  run(
    'x509',
    '-req',
    '-in',
    'node.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'node.crt',
    '-days',
    '1',
    '-extfile',
    'ext.cnf',
  );
  return {
    ca: join(dir, 'ca.crt'),
    cert: join(dir, 'node.crt'),
    key: join(dir, 'node.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
