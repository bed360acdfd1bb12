// Changesets dry run: `changeset version` on a throwaway copy of the working tree, then checks
// that the four lockstep packages get one sane version and a changelog. Publishes nothing and
// leaves the checkout untouched (checked). Run: node scripts/changeset-dry-run.mjs
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const PACKAGES = ['raft-core', 'raft-kv', 'raft-storage-sqlite', 'raft-transport-ws'];
const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));
const statusBefore = git('status', '--porcelain');
const problems = [];
const check = (ok, what) => ok || problems.push(what);

// Pending changesets and the bump each asks for, per package.
const BUMPS = ['patch', 'minor', 'major'];
const asked = new Map();
for (const f of readdirSync(join(ROOT, '.changeset')).filter((f) => f.endsWith('.md'))) {
  if (f === 'README.md') continue;
  const front = /^---\n([\s\S]*?)\n---/.exec(readFileSync(join(ROOT, '.changeset', f), 'utf8'));
  check(front !== null, `.changeset/${f}: no frontmatter`);
  for (const [, name, bump] of front?.[1].matchAll(/^"([^"]+)":\s*(\w+)\s*$/gm) ?? []) {
    check(PACKAGES.includes(name), `.changeset/${f}: unknown package ${name}`);
    asked.set(name, Math.max(asked.get(name) ?? -1, BUMPS.indexOf(bump)));
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'tsraft-changeset-'));
try {
  // The working tree (tracked and untracked files, not ignored ones), without .git.
  const files = git('ls-files', '-z', '-co', '--exclude-standard').split('\0').filter(Boolean);
  for (const f of files) {
    if (!existsSync(join(ROOT, f))) continue; // deleted but not yet committed
    cpSync(join(ROOT, f), join(tmp, f), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(tmp, 'node_modules'));
  const before = Object.fromEntries(
    PACKAGES.map((p) => [p, readJson(join(tmp, 'packages', p, 'package.json')).version]),
  );
  execFileSync(join(ROOT, 'node_modules', '.bin', 'changeset'), ['version'], {
    cwd: tmp,
    stdio: 'inherit',
  });
  const after = Object.fromEntries(
    PACKAGES.map((p) => [p, readJson(join(tmp, 'packages', p, 'package.json'))]),
  );
  const versions = new Set(PACKAGES.map((p) => after[p].version));
  const highest = Math.max(...asked.values(), -1);
  console.log(`changesets ask for: ${highest < 0 ? 'nothing' : BUMPS[highest]}`);
  for (const p of PACKAGES) console.log(`  ${p}: ${before[p]} → ${after[p].version}`);
  check(versions.size === 1, `the fixed group drifted apart: ${[...versions].join(', ')}`);
  const [major, minor, patch] = before['raft-core'].split('.').map(Number);
  const expected =
    highest < 0
      ? before['raft-core']
      : [`${major}.${minor}.${patch + 1}`, `${major}.${minor + 1}.0`, `${major + 1}.0.0`][highest];
  check(versions.has(expected), `expected every package at ${expected}, got ${[...versions]}`);
  for (const p of PACKAGES) {
    const log = join(tmp, 'packages', p, 'CHANGELOG.md');
    if (highest < 0) continue;
    check(existsSync(log), `${p}: no CHANGELOG.md`);
    if (!existsSync(log)) continue;
    const text = readFileSync(log, 'utf8');
    check(
      text.startsWith(`# ${p}\n\n## ${expected}\n`),
      `${p}: CHANGELOG.md does not open with ${expected}`,
    );
    if ((asked.get(p) ?? -1) >= 0)
      check(
        /### (Major|Minor|Patch) Changes\n\n- \S/.test(text),
        `${p}: changelog lists no change`,
      );
  }
  for (const p of PACKAGES.filter((p) => p !== 'raft-core')) {
    check(
      after[p].peerDependencies?.['raft-core']?.startsWith('workspace:'),
      `${p}: peer range lost workspace:`,
    );
  }
  const kvLog = join(tmp, 'packages', 'raft-kv', 'CHANGELOG.md');
  if (existsSync(kvLog))
    console.log(
      `--- raft-kv/CHANGELOG.md (head)\n${readFileSync(kvLog, 'utf8').split('\n').slice(0, 20).join('\n')}\n---`,
    );
  const left = readdirSync(join(tmp, '.changeset')).filter(
    (f) => f.endsWith('.md') && f !== 'README.md',
  );
  check(left.length === 0, `changesets left unconsumed: ${left.join(', ')}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
check(git('status', '--porcelain') === statusBefore, 'the checkout was modified');
if (problems.length > 0) {
  console.error(`changeset dry run FAILED:\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log('changeset dry run: ok (nothing published, checkout untouched)');
