/**
 * Keeps the page fed: an `EventSource` on `/events` (status snapshots, events, reachability,
 * reconnecting by itself — also across a restart of the serving node), and polling of
 * `/status` while the stream is down or refused (e.g. `--http-auth all`, where the stream
 * needs a token EventSource cannot send). Polling sees only the serving node, and turns its
 * leader changes into timeline entries itself.
 */
import type { ClusterEvent, Hello, Reachability, StatusJson } from '../schema.js';
import { call } from './api.js';
import type { ClusterState } from './state.js';

const POLL_MS = 1000;

export function connect(state: ClusterState): void {
  let es: EventSource | null = null;
  let failures = 0;
  let streamRefused = false;
  let poller: ReturnType<typeof setInterval> | null = null;
  let pollSeq = 0;
  let lastLeader: string | null | undefined;

  const parse = <T>(e: Event): T => JSON.parse((e as MessageEvent<string>).data) as T;

  const open = (): void => {
    const src = new EventSource('/events');
    es = src;
    src.addEventListener('hello', (e) => state.setHello(parse<Hello>(e)));
    src.addEventListener('status', (e) => state.status(parse<StatusJson>(e)));
    src.addEventListener('event', (e) => state.event(parse<ClusterEvent>(e)));
    src.addEventListener('reach', (e) => state.reach(parse<Reachability>(e)));
    src.onopen = () => {
      failures = 0;
      stopPolling();
      state.setMode('live');
    };
    src.onerror = () => {
      startPolling();
      if (src.readyState !== EventSource.CLOSED) {
        // The browser retries by itself (the stream's `retry:` is 1 s).
        if (state.mode === 'live') state.setMode('reconnecting');
        return;
      }
      // Refused (an HTTP error, e.g. 401 or 503 while the node shuts down): retry ourselves.
      src.close();
      if (es === src) es = null;
      failures++;
      if (!streamRefused) setTimeout(open, Math.min(5000, 1000 * failures));
    };
  };

  const poll = async (): Promise<void> => {
    const seq = ++pollSeq;
    const a = await call('/status');
    if (seq !== pollSeq || poller === null) return;
    if (a.status === 401) {
      // Reads need the token here; EventSource cannot send one, so stay on polling.
      streamRefused = true;
      return;
    }
    if (!a.ok || a.json === null) {
      state.setMode(es === null ? 'disconnected' : 'reconnecting');
      return;
    }
    const s = a.json as unknown as StatusJson;
    if (state.hello?.node !== s.id) {
      state.setHello({ node: s.id, scope: 'local', intervalMs: POLL_MS, electionTimeoutMs: 0 });
    }
    if (lastLeader !== undefined && lastLeader !== s.leader) {
      state.event({
        seq: -Date.now(),
        at: Date.now(),
        node: s.id,
        kind: 'leader',
        term: s.term,
        text: s.leader === null ? `${s.id} knows no leader` : `leader is ${s.leader}`,
        ...(s.leader !== null && { subject: s.leader }),
      });
    }
    lastLeader = s.leader;
    state.status(s);
    state.setMode('polling');
  };

  const startPolling = (): void => {
    if (poller !== null) return;
    poller = setInterval(() => void poll(), POLL_MS);
    void poll();
  };

  const stopPolling = (): void => {
    if (poller !== null) clearInterval(poller);
    poller = null;
    lastLeader = undefined;
  };

  const forcePoll = new URLSearchParams(location.search).get('transport') === 'poll';
  if (forcePoll || typeof EventSource === 'undefined') {
    streamRefused = true;
    startPolling();
  } else {
    open();
  }
}
