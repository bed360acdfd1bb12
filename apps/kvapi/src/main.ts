/**
 * kvapi's entry point: parse the command line (one clear line and exit 2 on a bad one), start
 * the server, and stop gracefully on SIGTERM/SIGINT — a second signal exits at once.
 */
import { parseCli, USAGE, UsageError } from './cli.js';
import { KvapiServer } from './server.js';
import { isTool, TOOLS_USAGE, toolMain } from './tools.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (isTool(argv[0])) {
    process.exitCode = await toolMain(argv);
    return;
  }
  let config: ReturnType<typeof parseCli>;
  try {
    config = parseCli(argv, process.env);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`kvapi: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  if (config === 'help') {
    process.stdout.write(`${USAGE}\n\n${TOOLS_USAGE}\n`);
    return;
  }
  let server: KvapiServer;
  try {
    server = await KvapiServer.start(config);
  } catch (e) {
    process.stderr.write(`kvapi: cannot start node ${config.node}: ${(e as Error).message}\n`);
    process.exit(1);
  }
  server.app.log.info(
    { http: config.http, cluster: config.cluster, data: config.data },
    `node ${config.node} serving HTTP on ${config.http}`,
  );
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      server.app.log.warn(`${sig} again: exiting now`);
      process.exit(1);
    }
    server.app.log.info(`${sig}: stopping gracefully (send it again to exit now)`);
    server.close().then(
      () => process.exit(process.exitCode ?? 0),
      (e: unknown) => {
        server.app.log.error({ err: String(e) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

await main();
