// The Alpaca Trading API broker adapter. Not re-exported by the package index: it does I/O
// (fetch, WebSocket) and the trading core stays pure. Import this file (or '@stock-tracker/trading/alpaca' once the manifest exports it).
export * from './wire.ts';
export * from './errors.ts';
export * from './rest.ts';
export * from './stream.ts';
export * from './fills.ts';
export * from './broker.ts';
