import { useEffect, useState } from 'preact/hooks'
import { pb } from './api.ts'
import type { Collection } from './types.ts'

/**
 * The collections, loaded once and shared by every page that needs them (the side list, the
 * relation pickers, rule completion). `reloadCollections()` after a change refreshes every user.
 */
let cached: Collection[] | undefined
const listeners = new Set<(list: Collection[]) => void>()

export async function reloadCollections(): Promise<Collection[]> {
  const list = (await pb.collections.getFullList({ sort: 'name' })) as unknown as Collection[]
  cached = list
  for (const l of listeners) l(list)
  return list
}

export function useCollections(): Collection[] | undefined {
  const [list, setList] = useState(cached)
  useEffect(() => {
    listeners.add(setList)
    if (!cached) reloadCollections().catch(() => undefined)
    return () => void listeners.delete(setList)
  }, [])
  return list
}

export function collectionById(id: string): Collection | undefined {
  return cached?.find((c) => c.id === id || c.name === id)
}
