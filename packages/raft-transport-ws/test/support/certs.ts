import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when an `openssl` binary can be run. */
export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

export interface TestPki {
  ca: string;
  cert: string;
  key: string;
  /** A certificate signed by another CA (must be refused). */
  rogueCert: string;
  rogueKey: string;
  rogueCa: string;
  cleanup(): void;
}

/** Generate a CA and a 127.0.0.1 node certificate (server + client auth) into a temp dir. */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'tsraft-pki-'));
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
  );
  for (const name of ['ca', 'rogue-ca']) {
    run(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-subj',
      `/CN=tsraft ${name}`,
    );
  }
  for (const [name, ca] of [
    ['node', 'ca'],
    ['rogue', 'rogue-ca'],
  ] as const) {
    run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      'ext.cnf',
    );
  }
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    ca: read('ca.crt'),
    cert: read('node.crt'),
    key: read('node.key'),
    rogueCa: read('rogue-ca.crt'),
    rogueCert: read('rogue.crt'),
    rogueKey: read('rogue.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
