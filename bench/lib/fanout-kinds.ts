/** The servers compared by bench/ws-fanout.bench.ts (see fanout-server.ts). */
export type FanoutKind = 'gateway' | 'raw' | 'socketio';
export const FANOUT_KINDS: readonly FanoutKind[] = ['gateway', 'raw', 'socketio'];
