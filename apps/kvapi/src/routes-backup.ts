/**
 * `GET /admin/backup`: a consistent backup of the key-value state while the node runs, in the
 * file format of `backup-file.ts` (what `kvapi backup --from` fetches and `kvapi restore` reads).
 *
 * Any node answers. It first waits for a linearizable read point (ReadIndex, as `GET /kv/K`
 * does), so every write acknowledged anywhere before the request is in the backup; then it
 * captures the state machine's point-in-time snapshot synchronously at the applied index
 * (raft-kv's snapshots are copy-on-write, so applying goes on while the bytes are written).
 * NB: SQLite cannot be read from another process while the node runs (the storage holds an
 * exclusive lock), which is why backups of a running node go through HTTP.
 */
import type { FastifyInstance } from 'fastify';
import { encodeBackup } from './backup-file.js';
import { toHttpError, withTimeout } from './http-errors.js';
import type { Ctx } from './writes.js';

export function backupRoutes(app: FastifyInstance, ctx: Ctx): void {
  const { replica, config } = ctx;
  app.get('/admin/backup', async (req, reply) => {
    try {
      await withTimeout(replica.node.read(), config.requestTimeoutMs, req.url);
    } catch (e) {
      throw toHttpError(e, () => replica.leaderInfo());
    }
    // No await between here and sm.snapshot(): the index and the captured state agree.
    const index = replica.sm.appliedIndex;
    const voters = replica.node.status().confState.voters;
    const keys = replica.sm.size;
    const data = await replica.sm.snapshot();
    const file = encodeBackup(
      { clusterId: config.clusterId, node: config.node, index, voters, keys },
      data,
    );
    await reply
      .type('application/octet-stream')
      .header('content-disposition', `attachment; filename="kvapi-${config.node}-${index}.backup"`)
      .send(file);
  });
}
