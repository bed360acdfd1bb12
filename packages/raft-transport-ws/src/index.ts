export type { HostPort } from './address.js';
export { parseAddress } from './address.js';
export { CODEC_VERSION, decodeMessages, encodeMessages } from './codec.js';
export type { WsTransportErrorReason } from './errors.js';
export { WsTransportError } from './errors.js';
export type {
  WsPeerError,
  WsPeerStatus,
  WsTlsOptions,
  WsTransportOptions,
  WsTransportStats,
} from './options.js';
export { WsTransport } from './ws-transport.js';
