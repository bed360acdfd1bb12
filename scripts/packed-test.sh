#!/usr/bin/env bash
# Packed-artifact test: the four packages as users get them.
#
#   bash scripts/packed-test.sh        (after `pnpm install`; builds if needed)
#
# `pnpm pack`s raft-core, raft-kv, raft-storage-sqlite and raft-transport-ws, installs the
# tarballs with npm into a fresh project in a temporary directory outside the workspace (no
# workspace links, no "@tsraft/source" condition), then there:
#   1. checks the installed manifests and .d.ts files (scripts/packed/check-manifest.mjs);
#   2. typechecks scripts/packed/app.ts under moduleResolution node16 and bundler, with the
#      pinned TypeScript (root package.json) and with the newest major (TS_NEXT, 7.x);
#   3. runs the pinned tsc's node16 output with plain `node`: a 3-node raft-kv
#      cluster over raft-transport-ws + raft-storage-sqlite writes and reads back a key, then
#      the same code on raft-core/testing's memory transport and storage.
# The temporary directory is removed on exit (KEEP_PACKED_TEST=1 keeps it for debugging).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TS_NEXT=${TS_NEXT:-7.0.2} # newest TypeScript major on the registry when this was written

pinned() { node -p "require('./package.json').devDependencies['$1']"; }
TS_PINNED=$(pinned typescript)
TYPES_NODE=$(pinned @types/node)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tsraft-packed.XXXXXX")
cleanup() {
  if [ "${KEEP_PACKED_TEST:-}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
started=$SECONDS
say() { echo "[packed-test +$((SECONDS - started))s] $*"; }

PKGS=(raft-core raft-kv raft-storage-sqlite raft-transport-ws)
say "build"
pnpm -s turbo run build --filter='./packages/*' --output-logs=errors-only >/dev/null

say "pack"
mkdir -p "$TMP/tgz" "$TMP/app"
for p in "${PKGS[@]}"; do
  (cd "packages/$p" && pnpm pack --pack-destination "$TMP/tgz" >/dev/null)
done
ls "$TMP/tgz"

cd "$TMP/app"
deps=""
for p in "${PKGS[@]}"; do
  deps+="\"$p\": \"file:../tgz/$(cd ../tgz && ls "$p"-[0-9]*.tgz)\","
done
cat >package.json <<JSON
{
  "name": "tsraft-packed-app",
  "private": true,
  "type": "module",
  "dependencies": { ${deps%,} },
  "devDependencies": { "typescript": "$TS_PINNED", "@types/node": "$TYPES_NODE" }
}
JSON
cp "$ROOT/scripts/packed/app.ts" "$ROOT/scripts/packed/check-manifest.mjs" .
# node16 also checks every declaration file (skipLibCheck false: ours and @types/node); bundler
# resolves the same declarations another way, so it skips re-checking their insides (faster).
for mode in node16 bundler; do
  module=$([ $mode = node16 ] && echo Node16 || echo ESNext)
  skip=$([ $mode = node16 ] && echo false || echo true)
  cat >"tsconfig.$mode.json" <<JSON
{
  "compilerOptions": {
    "target": "ES2022", "lib": ["ES2023"], "types": ["node"],
    "module": "$module", "moduleResolution": "$mode",
    "strict": true, "skipLibCheck": $skip, "outDir": "out-$mode"
  },
  "files": ["app.ts"]
}
JSON
done

say "npm install (tarballs + typescript@$TS_PINNED, @types/node@$TYPES_NODE)"
# better-sqlite3 compiles its native addon on install (about a minute; its prebuilt binaries'
# host is unreachable here). When the workspace already built the same version for this Node,
# reuse that binary instead; PACKED_TEST_REBUILD=1 compiles it from source.
sqlite_version=$(node -p "require('$ROOT/packages/raft-storage-sqlite/package.json').dependencies['better-sqlite3']")
prebuilt=$(ls "$ROOT"/node_modules/.pnpm/better-sqlite3@"$sqlite_version"/node_modules/better-sqlite3/build/Release/better_sqlite3.node 2>/dev/null || true)
if [ -n "$prebuilt" ] && [ "${PACKED_TEST_REBUILD:-}" != 1 ]; then
  npm install --no-audit --no-fund --ignore-scripts --loglevel=error
  mkdir -p node_modules/better-sqlite3/build/Release
  cp "$prebuilt" node_modules/better-sqlite3/build/Release/
else
  npm install --no-audit --no-fund --loglevel=error
fi
if grep -rq '"link": true' node_modules/.package-lock.json; then
  echo "installed packages are links, not tarball contents" >&2
  exit 1
fi

say "check manifests"
node check-manifest.mjs

say "typecheck with typescript@$TS_PINNED"
# The node16 check also emits out-node16/app.js, which the last step runs.
npx tsc -p tsconfig.node16.json && echo "  node16: ok"
npx tsc -p tsconfig.bundler.json --noEmit && echo "  bundler: ok"

say "typecheck with typescript@$TS_NEXT"
mkdir -p ts-next && (cd ts-next && npm init -y >/dev/null &&
  npm install --no-audit --no-fund --loglevel=error "typescript@$TS_NEXT")
for mode in node16 bundler; do
  ts-next/node_modules/.bin/tsc -p "tsconfig.$mode.json" --noEmit && echo "  $mode: ok"
done
echo "  ($(ts-next/node_modules/.bin/tsc --version))"

say "run the node16 build with plain node"
timeout 60 node out-node16/app.js
say "passed"
