/**
 * The /ui dashboard in real headless Chromium (Debian's chromium + playwright-core) against 3
 * real kvapi processes, with the page served by a follower: it shows one leader and two
 * followers at one term; a put from the page is readable over HTTP on another node; a
 * leadership transfer from the page (confirmation, then the token prompt) moves the leader;
 * after kill -9 of the leader the page shows the new leader and the dead node unreachable; and
 * it reconnects by itself when the node serving it restarts.
 */
import { execFileSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LaunchedBrowser, launchChromium } from './support/browser.js';
import { APP_DIR, http, ProcessCluster, TEST_SECRET } from './support/cluster.js';

interface CardView {
  readonly node: string;
  readonly role: string;
  readonly term: string;
  readonly reachable: string;
}

let c: ProcessCluster;
let b: LaunchedBrowser;
let page: Page;
let served: string;
/** What the page's own console and errors said (printed when a test fails). */
const browserLog: string[] = [];

async function cards(): Promise<CardView[]> {
  return page.$$eval('#cards .card', (els) =>
    els.map((e) => ({
      node: e.getAttribute('data-node') ?? '',
      role: e.getAttribute('data-role') ?? '',
      term: e.getAttribute('data-term') ?? '',
      reachable: e.getAttribute('data-reachable') ?? '',
    })),
  );
}

/** Polls `read` (an attribute or text of the page) until `pred` holds. */
async function until(
  what: string,
  read: () => Promise<string | null>,
  pred: (v: string) => boolean,
  timeoutMs = 30_000,
): Promise<string> {
  const end = Date.now() + timeoutMs;
  let v: string | null = null;
  while (Date.now() < end) {
    v = await read();
    if (v !== null && pred(v)) return v;
    await page.waitForTimeout(100);
  }
  throw new Error(`page never showed ${what}; last: ${v}\n${browserLog.join('\n')}`);
}

const text = (sel: string) => () => page.textContent(sel);
const attr = (sel: string, name: string) => () => page.getAttribute(sel, name);

/** Polls the page until `pred` holds for its cards; returns them. */
async function untilCards(
  what: string,
  pred: (cs: CardView[]) => boolean,
  timeoutMs = 30_000,
): Promise<CardView[]> {
  const end = Date.now() + timeoutMs;
  let last: CardView[] = [];
  while (Date.now() < end) {
    last = await cards();
    if (pred(last)) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(
    `page never showed ${what}; last cards: ${JSON.stringify(last)}\n${browserLog.join('\n')}`,
  );
}

beforeAll(async () => {
  // Build the page into dist/ui (the sources under test import nothing from it).
  execFileSync('pnpm', ['exec', 'tsup', '--config', 'tsup.ui.config.ts'], {
    cwd: APP_DIR,
    stdio: 'ignore',
  });
  b = await launchChromium();
  c = await ProcessCluster.start();
  const leader = await c.waitLeader();
  served = c.ids.find((id) => id !== leader) as string;
  page = await b.context.newPage();
  page.on('console', (m) => browserLog.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => browserLog.push(`pageerror: ${e.message}`));
  await page.goto(`${c.url(served)}/ui`);
});

afterAll(async () => {
  await b?.close();
  await c?.destroy();
});

describe('dashboard in headless Chromium', () => {
  it('shows one leader and two followers at the same term, served by a follower', async () => {
    const cs = await untilCards(
      'one leader, two followers, one term, all reachable',
      (cs) =>
        cs.length === 3 &&
        cs.filter((x) => x.role === 'leader').length === 1 &&
        cs.filter((x) => x.role === 'follower').length === 2 &&
        new Set(cs.map((x) => x.term)).size === 1 &&
        cs.every((x) => x.reachable === 'true'),
    );
    expect(cs.map((x) => x.node).sort()).toEqual([...c.ids].sort());
    const st = await c.status(served);
    expect(cs.find((x) => x.role === 'leader')?.node).toBe(st?.leader);
    expect(await page.textContent('#served-by')).toBe(served);
    expect(await page.getAttribute('#conn', 'data-state')).toBe('live');
    expect(browserLog.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  });

  it('puts a key from the page that another node serves over HTTP', async () => {
    await page.fill('#kv-form input[name=key]', 'from/page');
    await page.fill('#kv-form input[name=value]', 'hello ui');
    await page.click('#kv-form button[value=put]');
    await until('the put answer', text('#kv-out'), (t) => t.startsWith('200 put from/page'));
    const other = c.ids.find((id) => id !== served) as string;
    const r = await http(`${c.url(other)}/kv/${encodeURIComponent('from/page')}`);
    expect(r.status).toBe(200);
    expect(r.body).toBe('hello ui');
    // A stale get from the page says so.
    await page.selectOption('#consistency', 'stale');
    await page.click('#kv-form button[value=get]');
    await until('the stale get', text('#kv-out'), (t) => t.includes('stale read'));
    expect(await page.textContent('#kv-out')).toContain('hello ui');
  });

  it('transfers leadership from the page after confirmation and the token prompt', async () => {
    const before = await cards();
    const leader = before.find((x) => x.role === 'leader')?.node as string;
    const target = c.ids.find((id) => id !== leader && id !== served) as string;
    await page.selectOption('#transfer-to', target);
    await page.click('#transfer-form button[type=submit]');
    await page.waitForSelector('#confirm[open]');
    expect(await page.textContent('#confirm-text')).toContain(`to ${target}`);
    await page.click('#confirm-ok');
    // The admin route answered 401: the page asks for the token once, then retries.
    await page.waitForSelector('#token-dialog[open]');
    await page.fill('#token-input', TEST_SECRET);
    await page.click('#token-ok');
    await until('the transfer answer', attr('#admin-out', 'data-kind'), (k) => k === 'ok');
    await untilCards(
      `${target} as leader`,
      (cs) => cs.find((x) => x.node === target)?.role === 'leader',
    );
    expect(await c.waitLeader()).toBe(target);
    await page.waitForSelector(`#timeline li[data-reason="transfer"]`);
  });

  it('after kill -9 of the leader, shows the new leader and the dead node unreachable', async () => {
    const before = await cards();
    const dead = before.find((x) => x.role === 'leader')?.node as string;
    expect(dead).not.toBe(served);
    const oldTerm = Number(before[0]?.term);
    const t0 = Date.now();
    await c.kill(dead);
    const cs = await untilCards(
      'a new leader and the dead node unreachable',
      (cs) =>
        cs.find((x) => x.node === dead)?.reachable === 'false' &&
        cs.some(
          (x) =>
            x.node !== dead &&
            x.role === 'leader' &&
            x.reachable === 'true' &&
            Number(x.term) > oldTerm,
        ),
      // Election timeout (0.5-1 s at tick 50 ms, plus PreVote) and a few stream intervals.
      20_000,
    );
    const leader = cs.find((x) => x.role === 'leader' && x.node !== dead)?.node;
    expect(await c.waitLeader()).toBe(leader);
    console.log(`page showed the new leader ${leader} ${Date.now() - t0} ms after kill -9`);
    expect(await page.textContent(`#cards .card[data-node="${dead}"] .role`)).toContain(
      'unreachable',
    );
    await c.restart(dead);
    await untilCards('the restarted node reachable', (cs) =>
      cs.every((x) => x.reachable === 'true'),
    );
  });

  it('reconnects by itself when the node serving it restarts', async () => {
    await c.kill(served);
    await until('the stream down', attr('#conn', 'data-state'), (st) => st !== 'live', 20_000);
    await c.restart(served);
    await until('the stream live again', attr('#conn', 'data-state'), (st) => st === 'live');
    await untilCards(
      'all three reachable again with one leader',
      (cs) =>
        cs.length === 3 &&
        cs.every((x) => x.reachable === 'true') &&
        cs.filter((x) => x.role === 'leader').length === 1,
    );
  });
});
