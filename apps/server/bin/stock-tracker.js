#!/usr/bin/env node
// Entry point of the `stock-tracker` command. The sources are TypeScript; tsx
// compiles them on load (cached), so the same code runs from a fresh clone, in
// tests and in the production image without a separate build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
