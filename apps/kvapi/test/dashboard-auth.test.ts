/**
 * The dashboard when every route needs the cluster secret (`--http-auth all`): the page itself
 * loads, `/events` refuses the EventSource (it cannot send a token), and the page falls back to
 * polling `/status` after asking for the token once — then reads and writes work with it.
 */

import { execFileSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchChromium } from './support/browser.js';
import { ADMIN_AUTH, APP_DIR, http, ProcessCluster, TEST_SECRET } from './support/cluster.js';

let c: ProcessCluster;
let b: LaunchedBrowser;
let page: Page;

beforeAll(async () => {
  execFileSync('pnpm', ['exec', 'tsup', '--config', 'tsup.ui.config.ts'], {
    cwd: APP_DIR,
    stdio: 'ignore',
  });
  b = await launchChromium();
  c = await ProcessCluster.start({ ids: ['0'], extraArgs: ['--http-auth', 'all'] });
  page = await b.context.newPage();
});

afterAll(async () => {
  await b?.close();
  await c?.destroy();
});

async function until(
  what: string,
  read: () => Promise<string | null>,
  want: string,
): Promise<void> {
  const end = Date.now() + 30_000;
  let v: string | null = null;
  while (Date.now() < end) {
    v = await read();
    if (v === want) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`page never showed ${what}: last ${v}`);
}

describe('--http-auth all', () => {
  it('closes reads and the stream, but not the page', async () => {
    const u = c.url('0');
    expect((await http(`${u}/kv/x`)).status).toBe(401);
    expect((await http(`${u}/events`)).status).toBe(401);
    expect((await http(`${u}/status`)).status).toBe(401);
    expect((await http(`${u}/status`, { headers: ADMIN_AUTH })).status).toBe(200);
    expect((await http(`${u}/ui`)).status).toBe(200);
  });

  it('the page asks for the token once and falls back to polling', async () => {
    await page.goto(`${c.url('0')}/ui`);
    await page.waitForSelector('#token-dialog[open]');
    await page.fill('#token-input', TEST_SECRET);
    await page.click('#token-ok');
    await until('polling mode', () => page.getAttribute('#conn', 'data-state'), 'polling');
    await until(
      'node 0 as leader',
      () => page.getAttribute('#cards .card[data-node="0"]', 'data-role'),
      'leader',
    );
    await page.fill('#kv-form input[name=key]', 'k');
    await page.fill('#kv-form input[name=value]', 'v');
    await page.click('#kv-form button[value=put]');
    await until(
      'the put answer',
      async () => (await page.getAttribute('#kv-out', 'data-kind')) ?? null,
      'ok',
    );
    expect((await http(`${c.url('0')}/kv/k`, { headers: ADMIN_AUTH })).body).toBe('v');
    expect(await page.isVisible('#token-dialog[open]')).toBe(false);
  });
});
