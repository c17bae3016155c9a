/** A field as the collections API sends it (PocketBase's JSON; options depend on `type`). */
export interface Field {
  id: string
  name: string
  type: string
  system?: boolean
  hidden?: boolean
  presentable?: boolean
  required?: boolean
  [option: string]: unknown
}

export type RuleName = 'listRule' | 'viewRule' | 'createRule' | 'updateRule' | 'deleteRule' | 'authRule' | 'manageRule'

/** A collection as the collections API sends it; auth collections carry their auth options too. */
export interface Collection {
  id: string
  name: string
  type: 'base' | 'auth' | 'view'
  system?: boolean
  fields: Field[]
  indexes: string[]
  listRule: string | null
  viewRule: string | null
  createRule: string | null
  updateRule: string | null
  deleteRule: string | null
  authRule?: string | null
  manageRule?: string | null
  viewQuery?: string
  [option: string]: unknown
}

/** A record as the records API sends it. */
export interface Rec {
  id: string
  collectionId: string
  collectionName: string
  [field: string]: unknown
}

export const FIELD_TYPES = ['text', 'number', 'bool', 'email', 'url', 'editor', 'date', 'autodate', 'select', 'json', 'relation', 'file', 'password', 'geoPoint'] as const
