/**
 * autocannon in this process, running until `stop()` (the load of the deploy tests, which must
 * last exactly as long as a rollout or a scale-up does). `reqErrors` says what each failed request met.
 */
import { createRequire } from 'node:module'

export interface CannonResult {
  requests: { total: number }
  non2xx: number
  errors: number
  timeouts: number
  statusCodeStats?: unknown
}
interface Instance {
  stop(): void
  on(event: 'reqError', fn: (err: Error) => void): void
}
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: object, done: (err: Error | null, r: CannonResult) => void) => Instance

export function load(url: string, connections = 8): { stop(): Promise<CannonResult>; reqErrors: string[] } {
  const reqErrors: string[] = []
  let instance!: Instance
  const result = new Promise<CannonResult>((resolve, reject) => {
    instance = autocannon({ url, connections, duration: 600 }, (err, r) => (err ? reject(err) : resolve(r)))
  })
  instance.on('reqError', (err) => reqErrors.push(`${new Date().toISOString()} ${String(err)}`))
  return {
    reqErrors,
    async stop() {
      instance.stop()
      return result
    },
  }
}
