import { isIPv6 } from 'node:net';
import { WsTransportError } from './errors.js';

/** A parsed `host:port`. `host` is null for `:port` (all interfaces when listening). */
export interface HostPort {
  /** Host name or IP address (IPv6 without brackets), or null for all interfaces. */
  readonly host: string | null;
  /** TCP port (0 = pick a free one when listening). */
  readonly port: number;
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

function invalid(address: string, why: string): WsTransportError {
  return new WsTransportError(
    'InvalidAddress',
    `invalid address ${JSON.stringify(address)}: ${why}`,
  );
}

/**
 * `parseAddress` parses `host:port`, `:port` or `[ipv6]:port` (port 0–65535).
 * Throws `WsTransportError` (reason `'InvalidAddress'`) for anything else.
 */
export function parseAddress(address: string): HostPort {
  if (typeof address !== 'string') throw invalid(String(address), 'not a string');
  const colon = address.lastIndexOf(':');
  if (colon < 0) throw invalid(address, 'missing ":port"');
  const portText = address.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) throw invalid(address, 'port is not a number');
  const port = Number(portText);
  if (port > 65535) throw invalid(address, 'port out of range');
  const hostText = address.slice(0, colon);
  if (hostText === '') return { host: null, port };
  if (hostText.startsWith('[')) {
    if (!hostText.endsWith(']')) throw invalid(address, 'unclosed "["');
    const ip = hostText.slice(1, -1);
    if (!isIPv6(ip)) throw invalid(address, 'not an IPv6 literal');
    return { host: ip, port };
  }
  if (hostText.includes(':')) throw invalid(address, 'IPv6 literals need brackets: [::1]:port');
  if (!HOSTNAME.test(hostText)) throw invalid(address, 'not a host name or IPv4 address');
  return { host: hostText, port };
}

/** `formatHost` brackets IPv6 literals for use in URLs and `host:port` strings. */
export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
