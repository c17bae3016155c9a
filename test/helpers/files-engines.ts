/**
 * The files engines every files contract suite runs over: the local folder, and S3 on s3rver
 * (started per store, behind the SigV4-checking proxy, see s3.ts), each from an empty store.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { FileStore } from '../../src/files/files.ts'
import { localStore } from '../../src/files/local.ts'
import { openS3Store } from '../../src/files/s3.ts'
import { S3RVER_SECRET, sigv4Proxy, startS3rver } from './s3.ts'

export interface FilesEngine {
  name: string
  make: () => Promise<{ store: FileStore; close(): Promise<void> }>
  skip?: string | false
}

export const filesEngines: FilesEngine[] = [
  {
    name: 'local',
    make: async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'plinth-files-'))
      return { store: localStore({ dir: path.join(dir, 'storage') }), close: async () => rmSync(dir, { recursive: true, force: true }) }
    },
  },
  {
    name: 's3 (s3rver)',
    make: async () => {
      const s3 = await startS3rver(['plinth-test'])
      const proxy = await sigv4Proxy(s3.endpoint, S3RVER_SECRET)
      return {
        store: openS3Store({ ...s3.target('plinth-test'), endpoint: proxy.endpoint }),
        async close() {
          await proxy.close()
          await s3.close()
        },
      }
    },
  },
]

/** Every key under `prefix`, in the order the store lists them. */
export async function keys(store: FileStore, prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const o of store.list(prefix)) out.push(o.key)
  return out
}
