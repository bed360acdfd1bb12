// Checks what a tarball's package.json and .d.ts files promise users (run in the unpacked
// node_modules of the temporary project): no dev scripts, no workspace protocol, no source
// condition, raft-core as a peer, no @internal members in the published types.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const problems = [];
const walk = (d) =>
  readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
for (const name of ['raft-core', 'raft-kv', 'raft-storage-sqlite', 'raft-transport-ws']) {
  const root = join('node_modules', name);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const text = JSON.stringify(pkg);
  if (pkg.scripts) problems.push(`${name}: ships scripts ${Object.keys(pkg.scripts)}`);
  if (text.includes('workspace:')) problems.push(`${name}: workspace: protocol in package.json`);
  if (text.includes('@tsraft/source')) problems.push(`${name}: ships the @tsraft/source condition`);
  for (const f of ['license', 'repository', 'keywords', 'engines', 'files', 'exports'])
    if (pkg[f] === undefined) problems.push(`${name}: no ${f}`);
  if (pkg.sideEffects !== false) problems.push(`${name}: sideEffects is not false`);
  if (name !== 'raft-core') {
    if (!pkg.peerDependencies?.['raft-core']) problems.push(`${name}: raft-core is not a peer`);
    if (pkg.dependencies?.['raft-core']) problems.push(`${name}: raft-core is a dependency`);
  }
  const files = walk(root);
  for (const f of files.filter((f) => f.endsWith('.d.ts'))) {
    const dts = readFileSync(f, 'utf8');
    for (const m of ['@internal', '_raw', '_crash', '_pendingIndexes'])
      if (dts.includes(m)) problems.push(`${f}: contains ${m}`);
  }
  for (const f of files.filter((f) => f.endsWith('.map'))) {
    if (JSON.parse(readFileSync(f, 'utf8')).sourcesContent)
      problems.push(`${f}: embeds sourcesContent (src/ is shipped already)`);
  }
  if (files.some((f) => /\.(test|bench)\.ts$/.test(f))) problems.push(`${name}: ships tests`);
}
// One copy of the core: the adapters resolve the app's raft-core, not their own.
for (const name of ['raft-kv', 'raft-storage-sqlite', 'raft-transport-ws']) {
  try {
    statSync(join('node_modules', name, 'node_modules', 'raft-core'));
    problems.push(`${name}: has its own copy of raft-core`);
  } catch {}
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('manifests and types: ok');
