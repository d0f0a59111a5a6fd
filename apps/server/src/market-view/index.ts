export * from './keys.ts';
export * from './view-writer.ts';
export * from './market-view.ts';
export * from './alert-rule-sync.ts';
