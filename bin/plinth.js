#!/usr/bin/env node
// Plinth runs its TypeScript sources (and app modules) directly: tsx compiles them on load.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
