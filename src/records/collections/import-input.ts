import type { Collection, CollectionType } from '../model.ts'
import { newCollection } from './defaults.ts'
import { applyInput } from './serialize.ts'

/** One collection of an import: the definition to save, and the current one it replaces, if any. */
export interface ImportItem {
  next: Collection
  prev?: Collection
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Reads PocketBase's import list the way PocketBase does: an entry matching an existing collection
 * (by id, then name) is overlaid on it; without `fields` and with `deleteMissing` its fields are
 * emptied; existing fields the entry leaves out are kept when they are system fields or when
 * `deleteMissing` is off (a same-named field of the same type takes over the old field's id).
 * `fail` throws.
 */
export function readImport(
  input: unknown[],
  deleteMissing: boolean,
  find: (key: string) => Collection | undefined,
  defaultId: (type: CollectionType, name: string) => string,
  fail: (message: string) => never,
): ImportItem[] {
  const items: ImportItem[] = []
  for (const [i, raw] of input.entries()) {
    if (!isObject(raw)) fail(`Collection ${i} is not an object.`)
    const data = raw as Record<string, unknown>
    const key = (typeof data.id === 'string' && data.id) || (typeof data.name === 'string' ? data.name : '')
    const prev = key ? find(key) : undefined
    if (prev) {
      const next = structuredClone(prev) as Collection
      const body = { ...data }
      if (body.fields === undefined && deleteMissing) body.fields = []
      const problems = applyInput(next, body)
      if (problems.length) fail(`Invalid data for collection "${prev.name}": ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`)
      for (const f of prev.fields) {
        if (!f.system && deleteMissing) continue
        if (next.fields.some((x) => x.id === f.id)) continue
        const sameName = next.fields.find((x) => x.name === f.name)
        if (sameName) {
          if (sameName.type === f.type) sameName.id = f.id // keeps the column (and its data)
          continue
        }
        next.fields.push(structuredClone(f))
      }
      items.push({ next, prev })
    } else {
      const type = (typeof data.type === 'string' && data.type ? data.type : 'base') as CollectionType
      const name = typeof data.name === 'string' ? data.name : ''
      const next = newCollection(type, name, (typeof data.id === 'string' && data.id) || defaultId(type, name))
      const problems = applyInput(next, data)
      if (problems.length) fail(`Invalid data for collection "${next.name}": ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`)
      if (typeof data.created === 'string') next.created = data.created
      items.push({ next })
    }
  }
  return items
}
