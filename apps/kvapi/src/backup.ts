/**
 * Backups: `kvapi backup` writes a verified backup file, either fetched from a running node's
 * `GET /admin/backup` (a linearizable, point-in-time snapshot: every write acknowledged before
 * the request is in it) or read offline from a stopped node's data directory (its committed
 * entries). `kvapi restore` seeds a new cluster's data directories from such a file.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { KvStateMachine } from 'raft-kv';
import { SqliteLogStorage } from 'raft-storage-sqlite';
import { type BackupHeader, decodeBackup, encodeBackup } from './backup-file.js';
import type { ClusterMember } from './cli.js';
import { applySeal, dbPath, isEmptyDir, openData, ToolError, writeSealed } from './offline.js';

/** Writes `bytes` to `path` atomically and durably (temp file, fsync, rename, fsync the dir). */
export function writeFileDurably(path: string, bytes: Uint8Array): void {
  const abs = resolve(path);
  mkdirSync(dirname(abs), { recursive: true });
  const tmp = `${abs}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, abs);
  const dfd = openSync(dirname(abs), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/**
 * Fetches a backup from a running node (`HOST:PORT` or a URL), verifies it and writes `out`.
 * `secret` is the cluster secret, sent as the bearer token that `/admin/*` routes require on a
 * node started with one.
 */
export async function backupFromNode(
  from: string,
  out: string,
  timeoutMs: number,
  secret: string | undefined,
): Promise<BackupHeader> {
  const base = /^https?:\/\//.test(from) ? from.replace(/\/+$/, '') : `http://${from}`;
  let res: Response;
  try {
    res = await fetch(`${base}/admin/backup`, {
      signal: AbortSignal.timeout(timeoutMs),
      ...(secret !== undefined && { headers: { authorization: `Bearer ${secret}` } }),
    });
  } catch (e) {
    throw new ToolError(`cannot reach ${base}: ${(e as Error).message}`);
  }
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) {
    throw new ToolError(
      `${base}/admin/backup answered ${res.status}: ${Buffer.from(body).toString('utf8').slice(0, 500)}`,
    );
  }
  let header: BackupHeader;
  try {
    header = decodeBackup(body).header;
  } catch (e) {
    throw new ToolError(`${base} sent a bad backup: ${(e as Error).message}`);
  }
  writeFileDurably(out, body);
  return header;
}

/** Writes a backup of a stopped node's committed state (see `openData`) to `out`. */
export async function backupFromData(opts: {
  readonly data: string;
  readonly node: string;
  readonly clusterId: string;
  readonly out: string;
}): Promise<BackupHeader> {
  const opened = await openData({ ...opts, upTo: 'commit' });
  try {
    const { summary, sm } = opened;
    const file = encodeBackup(
      {
        clusterId: opts.clusterId,
        node: opts.node,
        index: summary.lastIndex,
        voters: summary.confState.voters,
        keys: sm.size,
      },
      await sm.snapshot(),
    );
    writeFileDurably(opts.out, file);
    return decodeBackup(file).header;
  } finally {
    await opened.close();
  }
}

/** What {@link restore} wrote. */
export interface RestoreResult {
  readonly node: string;
  readonly index: number;
  readonly voters: readonly string[];
  readonly keys: number;
  readonly from: BackupHeader;
}

/**
 * Creates the data directory of one founding member of a new cluster from a backup file: a
 * snapshot at index `backup.index + 1`, term 1, with the `--cluster` ids as voters and no
 * member addresses from the old cluster. Run it with the same file and the same `--cluster` on
 * every founding member, then start them all with that `--cluster` (without `--join`).
 * Refuses a non-empty data directory.
 */
export async function restore(opts: {
  readonly input: string;
  readonly data: string;
  readonly node: string;
  readonly clusterId: string;
  readonly cluster: readonly ClusterMember[];
}): Promise<RestoreResult> {
  let file: Uint8Array;
  try {
    file = readFileSync(opts.input);
  } catch (e) {
    throw new ToolError(`cannot read ${opts.input}: ${(e as Error).message}`);
  }
  let decoded: ReturnType<typeof decodeBackup>;
  try {
    decoded = decodeBackup(file);
  } catch (e) {
    throw new ToolError(`${opts.input}: ${(e as Error).message}`);
  }
  if (!isEmptyDir(opts.data)) {
    throw new ToolError(`${opts.data} is not empty: restore only creates new nodes`);
  }
  const sm = new KvStateMachine({});
  sm.restore(decoded.snapshot);
  const index = decoded.header.index + 1;
  // The new cluster's founders come from --cluster; addresses of members the old cluster added
  // later would point at the old machines, so they are dropped.
  applySeal(sm, index, 1, [...sm.members().keys()]);
  const voters = opts.cluster.map((m) => m.id);
  const storage = await SqliteLogStorage.open({
    path: dbPath(opts.data),
    clusterId: opts.clusterId,
    nodeId: opts.node,
  });
  try {
    await writeSealed(storage, index, 1, voters, await sm.snapshot());
  } finally {
    await storage.close();
  }
  return {
    node: opts.node,
    index,
    voters: [...voters].sort(),
    keys: sm.size,
    from: decoded.header,
  };
}
