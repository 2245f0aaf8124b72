#!/usr/bin/env node
// Runs the TypeScript CLI (src/cli/main.ts) through tsx's ESM loader, registered in this process, so
// `npx slipway` works from the checkout with no build step.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/cli/main.ts', import.meta.url).href);
