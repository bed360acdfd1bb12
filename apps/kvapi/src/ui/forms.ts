/**
 * The key browser (list by prefix, get — linearizable or stale, labeled as such —, put,
 * delete, CAS) and the admin actions (transfer, add learner, promote, remove). Each goes to
 * the public route curl would use, and shows the answer as the API returned it.
 */
import { type Answer, call, describe, postJson, show } from './api.js';
import { confirmAction } from './dialogs.js';
import type { ClusterState } from './state.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const enc = encodeURIComponent;

function field(form: HTMLFormElement, name: string): string {
  return (form.elements.namedItem(name) as HTMLInputElement).value;
}

function consistency(): 'linearizable' | 'stale' {
  return $<HTMLSelectElement>('consistency').value === 'stale' ? 'stale' : 'linearizable';
}

function readLabel(c: string): string {
  return c === 'stale' ? 'stale read: served locally, may lag' : 'linearizable read';
}

export function wireKeys(): void {
  const out = $('kv-out');
  const table = $<HTMLTableElement>('kv-list');
  const report = (a: Answer, what: string): void => {
    const d = describe(a, what);
    show(out, d.kind, d.text);
  };

  const get = async (key: string): Promise<void> => {
    const c = consistency();
    const a = await call(`/kv/${enc(key)}?consistency=${c}`);
    if (a.status === 404) show(out, 'info', `${key}: no such key (${readLabel(c)})`);
    else report(a, `get ${key} (${readLabel(c)})`);
  };
  const del = async (key: string): Promise<void> => {
    if (!(await confirmAction(`Delete key "${key}"?`))) return;
    report(await call(`/kv/${enc(key)}`, { method: 'DELETE' }), `delete ${key}`);
  };

  $<HTMLFormElement>('list-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    void (async () => {
      const c = consistency();
      const a = await call(`/kv?prefix=${enc(field(form, 'prefix'))}&limit=100&consistency=${c}`);
      const body = table.tBodies[0] as HTMLTableSectionElement;
      body.replaceChildren();
      if (!a.ok || a.json === null) return report(a, 'list');
      const items = (a.json.items ?? []) as Array<{ key: string; value: string }>;
      show(out, 'ok', `${items.length}${a.json.more === true ? '+' : ''} keys (${readLabel(c)})`);
      for (const it of items) {
        const tr = body.insertRow();
        tr.dataset.key = it.key;
        tr.insertCell().textContent = it.key;
        tr.insertCell().textContent = it.value;
        const td = tr.insertCell();
        for (const [label, fn] of [
          ['get', get],
          ['delete', del],
        ] as const) {
          const b = document.createElement('button');
          b.type = 'button';
          b.className = 'small';
          b.textContent = label;
          b.addEventListener('click', () => void fn(it.key));
          td.append(b);
        }
      }
    })();
  });

  $<HTMLFormElement>('kv-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    const op = ((ev as SubmitEvent).submitter as HTMLButtonElement | null)?.value ?? 'get';
    const key = field(form, 'key');
    void (async () => {
      if (op === 'get') return get(key);
      if (op === 'delete') return del(key);
      const value = field(form, 'value');
      report(
        await call(`/kv/${enc(key)}`, {
          method: 'PUT',
          body: value,
          headers: { 'content-type': 'text/plain; charset=utf-8' },
        }),
        `put ${key}`,
      );
    })();
  });

  $<HTMLFormElement>('cas-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    const key = field(form, 'key');
    const absent = (form.elements.namedItem('absent') as HTMLInputElement).checked;
    const body = { from: absent ? null : field(form, 'from'), to: field(form, 'to') };
    void (async () => {
      const a = await postJson(`/cas/${enc(key)}`, body);
      if (a.status === 409) show(out, 'info', `409 not swapped: ${a.text}`);
      else report(a, `cas ${key}`);
    })();
  });
}

export function wireAdmin(state: ClusterState): {
  transfer(id: string): void;
  promote(id: string): void;
  remove(id: string): void;
} {
  const out = $('admin-out');
  const run = async (
    question: string,
    path: string,
    body: unknown,
    what: string,
  ): Promise<void> => {
    if (!(await confirmAction(question))) {
      show(out, 'info', `${what}: cancelled`);
      return;
    }
    show(out, 'info', `${what}: waiting for the cluster…`);
    const d = describe(await postJson(path, body), what);
    show(out, d.kind, d.text);
  };
  const actions = {
    transfer: (id: string) => {
      const from = state.leader()?.id ?? 'the current leader';
      void run(
        `Transfer leadership from ${from} to ${id}?`,
        '/admin/transfer',
        { id },
        `transfer to ${id}`,
      );
    },
    promote: (id: string) =>
      void run(`Promote learner ${id} to voter?`, '/admin/promote', { id }, `promote ${id}`),
    remove: (id: string) =>
      void run(
        `Remove ${id} from the cluster? It stops being a member.`,
        '/admin/remove',
        { id },
        `remove ${id}`,
      ),
  };
  $<HTMLFormElement>('transfer-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const to = $<HTMLSelectElement>('transfer-to').value;
    if (to !== '') actions.transfer(to);
  });
  $<HTMLFormElement>('learner-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget as HTMLFormElement;
    const body = { id: field(form, 'id'), peer: field(form, 'peer'), http: field(form, 'http') };
    void run(
      `Add ${body.id} (peer ${body.peer}, http ${body.http}) as a learner?`,
      '/admin/learner',
      body,
      `add learner ${body.id}`,
    );
  });
  return actions;
}

/** Keeps the transfer target list in step with the voters. */
export function renderTransferTargets(state: ClusterState): void {
  const sel = $<HTMLSelectElement>('transfer-to');
  const own = state.served === null ? null : state.nodes.get(state.served)?.status;
  const leader = state.leader()?.id;
  const ids = (own?.members ?? [])
    .filter((m) => m.role === 'voter' && m.id !== leader)
    .map((m) => m.id);
  const cur = [...sel.options].map((o) => o.value);
  if (cur.join() === ids.join()) return;
  const keep = sel.value;
  sel.replaceChildren(
    ...ids.map((id) => {
      const o = document.createElement('option');
      o.value = id;
      o.textContent = `node ${id}`;
      return o;
    }),
  );
  if (ids.includes(keep)) sel.value = keep;
}
