export * from './events.ts';
export * from './state.ts';
export * from './engine.ts';
export * from './ws.ts';
export * from './errors.ts';
export * from './rest.ts';
export * from './trading.ts';
export * from './trading-api.ts';
