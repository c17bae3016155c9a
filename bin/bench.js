#!/usr/bin/env node
// `npm run bench [-- SCENARIO...]`: runs bench/index.ts (TypeScript, through tsx like bin/plinth.js).
import { register } from 'tsx/esm/api'

register()
await import('../bench/index.ts')
