/**
 * Regenerates docs/images/dashboard.png: a live 3-process cluster (from source), some writes
 * and a leadership transfer so the timeline and sparklines have something to show, the page
 * opened on a follower in headless Chromium. Run: pnpm --filter kvapi screenshot
 * (after pnpm build, which builds the page into dist/ui).
 */
import { resolve } from 'node:path';
import { launchChromium } from '../test/support/browser.js';
import { ADMIN_AUTH, APP_DIR, http, ProcessCluster, sleep } from '../test/support/cluster.js';

const out = resolve(APP_DIR, '../../docs/images/dashboard.png');
const c = await ProcessCluster.start({ tickMs: 100, extraArgs: ['--snapshot-entries', '500'] });
const b = await launchChromium();
try {
  const leader = await c.waitLeader();
  const follower = c.ids.find((id) => id !== leader) as string;
  const page = await b.context.newPage();
  await page.setViewportSize({ width: 1360, height: 1000 });
  await page.goto(`${c.url(follower)}/ui`);
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      await http(`${c.url(c.ids[i % 3] as string)}/kv/user/${i % 40}`, {
        method: 'PUT',
        body: `v${i}`,
      }).catch(() => {});
      if (i % 4 === 0) await sleep(20);
    }
  })();
  await sleep(8000);
  const target = c.ids.find((id) => id !== leader && id !== follower) as string;
  await http(`${c.url(leader)}/admin/transfer`, {
    method: 'POST',
    body: JSON.stringify({ id: target }),
    headers: ADMIN_AUTH,
  });
  await sleep(14_000);
  await page.fill('#list-form input[name=prefix]', 'user/1');
  await page.click('#list-form button[type=submit]');
  await page.fill('#kv-form input[name=key]', 'user/1');
  await sleep(1500);
  stop = true;
  await writer;
  await sleep(300);
  await page.screenshot({ path: out, fullPage: true });
  process.stdout.write(`wrote ${out}\n`);
} finally {
  await b.close();
  await c.destroy();
}
