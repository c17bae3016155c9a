import type { ByteRange } from './files.ts'

/**
 * One HTTP byte range (RFC 9110 14.1.2) of an object of `size` bytes: `bytes=a-b`, `bytes=a-`
 * or `bytes=-n` (the last n). Undefined (serve the whole object) for a header that is malformed
 * or asks for several ranges; 'unsatisfiable' (416) when the range starts past the end.
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  if (m[1] === '') {
    const last = Number(m[2])
    if (last === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - last), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (m[2] !== '' && Number(m[2]) < start) return undefined
  if (start >= size) return 'unsatisfiable'
  return { start, end }
}
