/**
 * One card per member: role, term, indexes, reachability, and the leader's view of its
 * replication. Cards are built once per member and then only updated, so a click never lands
 * on an element that a re-render just replaced. `data-*` attributes carry the same facts for
 * tests and styling.
 */
import type { StatusJson, StatusPeer } from '../schema.js';
import type { ClusterState } from './state.js';

export interface CardActions {
  transfer(id: string): void;
  promote(id: string): void;
  remove(id: string): void;
}

interface Card {
  readonly root: HTMLElement;
  readonly role: HTMLElement;
  readonly fields: Map<string, HTMLElement>;
  readonly lag: HTMLElement;
  readonly transfer: HTMLButtonElement;
  readonly promote: HTMLButtonElement;
  readonly remove: HTMLButtonElement;
}

const FIELDS = [
  ['term', 'term'],
  ['commit', 'commit / applied'],
  ['last', 'last index'],
  ['snap', 'snapshot index'],
  ['reach', 'reachable'],
  ['repl', 'leader sees'],
  ['lagtxt', 'lag'],
  ['http', 'http'],
] as const;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls !== undefined) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function build(id: string, actions: CardActions): Card {
  const root = el('article', 'card');
  root.dataset.node = id;
  const top = el('div', 'top');
  top.append(el('span', 'id', id));
  const role = el('span', 'role');
  top.append(role);
  root.append(top);
  const dl = el('dl');
  const fields = new Map<string, HTMLElement>();
  for (const [key, label] of FIELDS) {
    dl.append(el('dt', undefined, label));
    const dd = el('dd');
    dd.dataset.field = key;
    dl.append(dd);
    fields.set(key, dd);
  }
  root.append(dl);
  const bar = el('div', 'lagbar');
  const lag = el('i');
  bar.append(lag);
  root.append(bar);
  const acts = el('div', 'acts');
  const button = (label: string, name: string, fn: (id: string) => void): HTMLButtonElement => {
    const b = el('button', 'small', label);
    b.type = 'button';
    b.dataset.action = name;
    b.addEventListener('click', () => fn(id));
    acts.append(b);
    return b;
  };
  const transfer = button('make leader', 'transfer', (x) => actions.transfer(x));
  const promote = button('promote', 'promote', (x) => actions.promote(x));
  const remove = button('remove', 'remove', (x) => actions.remove(x));
  remove.classList.add('danger');
  root.append(acts);
  return { root, role, fields, lag, transfer, promote, remove };
}

const fmtTime = (ms: number): string => new Date(ms).toLocaleTimeString([], { hour12: false });

function replication(p: StatusPeer | undefined, leader: StatusJson | null, self: boolean): string {
  if (leader === null) return 'no leader';
  if (self) return 'is the leader';
  if (p === undefined) return '–';
  const heard = p.active ? 'heard' : 'NOT heard';
  return `${heard} · match ${p.match} · next ${p.next} · ${p.state} · inflight ${p.inflight}`;
}

export class Cards {
  private readonly cards = new Map<string, Card>();

  constructor(
    private readonly host: HTMLElement,
    private readonly actions: CardActions,
  ) {}

  render(state: ClusterState): void {
    const ids = state.memberIds();
    const leader = state.leader();
    const own = state.served === null ? null : (state.nodes.get(state.served)?.status ?? null);
    const roleInConfig = new Map(own?.members.map((m) => [m.id, m.role]) ?? []);
    for (const [id, c] of this.cards) {
      if (!ids.includes(id)) {
        c.root.remove();
        this.cards.delete(id);
      }
    }
    for (const id of ids) {
      let c = this.cards.get(id);
      if (c === undefined) {
        c = build(id, this.actions);
        this.cards.set(id, c);
      }
      this.host.append(c.root); // keeps the order of `ids`
      const v = state.nodes.get(id);
      const s = v?.status ?? null;
      const reachable = state.reachable(id);
      const learner = roleInConfig.get(id) === 'learner';
      const role = s === null ? 'unknown' : s.role;
      c.root.dataset.role = role;
      c.root.dataset.term = s === null ? '' : String(s.term);
      c.root.dataset.reachable = reachable === null ? 'unknown' : String(reachable);
      c.root.dataset.learner = String(learner);
      c.role.textContent =
        reachable === false
          ? `unreachable (was ${role})`
          : learner && role === 'follower'
            ? 'learner'
            : role;
      const f = (k: string, t: string): void => {
        (c.fields.get(k) as HTMLElement).textContent = t;
      };
      f('term', s === null ? '–' : String(s.term));
      f('commit', s === null ? '–' : `${s.commitIndex} / ${s.appliedIndex}`);
      f('last', s === null ? '–' : String(s.lastIndex));
      f('snap', s === null ? '–' : String(s.snapshotIndex));
      const r = v?.reach;
      f(
        'reach',
        reachable === null
          ? 'unknown'
          : reachable
            ? id === state.served
              ? 'yes (serves this page)'
              : 'yes'
            : `NO${r?.error === undefined ? '' : ` (${r.error})`} since ${fmtTime(r?.since ?? Date.now())}`,
      );
      const p = leader?.peers.find((x) => x.id === id);
      f('repl', replication(p, leader, leader?.id === id));
      const lag = leader === null || p === undefined ? 0 : Math.max(0, leader.lastIndex - p.match);
      f(
        'lagtxt',
        leader === null
          ? '–'
          : leader.id === id
            ? '0'
            : `${lag} ${lag === 1 ? 'entry' : 'entries'}`,
      );
      c.lag.style.width = `${Math.min(100, lag === 0 ? 0 : 5 + Math.log10(lag + 1) * 25)}%`;
      const m = own?.members.find((x) => x.id === id);
      f('http', m?.http ?? s?.http ?? '–');
      c.transfer.hidden = learner || leader?.id === id;
      c.transfer.disabled = reachable === false;
      c.promote.hidden = !learner;
    }
  }
}
