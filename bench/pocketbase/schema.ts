/**
 * PocketBase's own benchmark data set (pocketbase/benchmarks, benchmarks/schema.go and
 * test_create.go) as Plinth collections, seeded through Plinth's API (batch requests of 50):
 * 100 organizations, 50 permissions, 500 users (each in one organization, with 3 permissions),
 * 10,000 posts in `posts10k` (alternating `public`, two random `type`s, a random author).
 * Only posts10k of its four post tables (10k/25k/50k/100k) is reproduced.
 */
import { asAdmin, freshDb, once, signIn, USERS_ID, type Admin, type Engine } from '../lib/seed.ts'

export const PB_PASSWORD = '1234567890'
const COUNTS = { organizations: 100, permissions: 50, users: 500, posts: 10_000 }

/** posts10k's rules and indexes as its schema has them; each scenario starts from these. */
export const POSTS_BASE = { listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '', indexes: [] as string[] }
const OPEN = { viewRule: '', createRule: '', updateRule: '', deleteRule: '' }
const SIGNED_IN = "@request.auth.id != ''"
export const TYPES = ['a', 'b', 'c', 'd']
export const DESCRIPTION =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit. Integer nec odio, praesent libero, sed cursus ante dapibus diam. ' +
  'Sed nisi, nulla quis sem at nibh elementum imperdiet. Duis sagittis ipsum, praesent mauris, fusce nec tellus sed augue ' +
  'semper porta. Mauris massa, vestibulum lacinia arcu eget nulla. Class aptent taciti sociosqu ad litora torquent per conubia ' +
  'nostra, per inceptos himenaeos. Curabitur sodales ligula in libero. Sed dignissim lacinia nunc, curabitur tortor pellentesque.'

export interface PbSeed {
  dbUrl: string
  organizationIds: string[]
  permissionIds: string[]
  userIds: string[]
  /** users0, signed in: the user every authenticated request goes as. */
  userId: string
  token: string
}

const text = (name: string) => ({ name, type: 'text' })
const autodates = [
  { name: 'created', type: 'autodate', onCreate: true },
  { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
]

async function createCollections(admin: Admin): Promise<void> {
  const organizations = await admin.call<{ id: string }>('POST', '/api/collections', {
    name: 'organizations', listRule: SIGNED_IN, ...OPEN, fields: [text('name'), ...autodates],
  })
  const permissions = await admin.call<{ id: string }>('POST', '/api/collections', {
    name: 'permissions', listRule: SIGNED_IN, ...OPEN, fields: [text('name'), { name: 'active', type: 'bool' }, ...autodates],
  })
  const users = await admin.call<{ fields: object[]; indexes: string[] }>('GET', `/api/collections/${USERS_ID}`)
  await admin.call('PATCH', `/api/collections/${USERS_ID}`, {
    listRule: SIGNED_IN,
    ...OPEN,
    passwordAuth: { enabled: true, identityFields: ['email', 'username'] },
    fields: [
      ...users.fields.filter((f) => !['name', 'avatar'].includes((f as { name: string }).name)),
      { name: 'username', type: 'text', required: true, min: 3, max: 150, pattern: '^[\\w][\\w\\.\\-]*$', autogeneratePattern: 'users[0-9]{6}' },
      { name: 'organization', type: 'relation', collectionId: organizations.id, maxSelect: 1, required: true, cascadeDelete: true },
      { name: 'permissions', type: 'relation', collectionId: permissions.id, maxSelect: 2147483647, cascadeDelete: true },
    ],
    indexes: [...users.indexes, 'CREATE UNIQUE INDEX idx_users_username ON users (username COLLATE NOCASE)'],
  })
  await admin.call('POST', '/api/collections', {
    name: 'posts10k',
    ...POSTS_BASE,
    fields: [
      text('title'),
      { name: 'description', type: 'editor' },
      { name: 'public', type: 'bool' },
      { name: 'type', type: 'select', maxSelect: 3, values: TYPES },
      { name: 'author', type: 'relation', collectionId: USERS_ID, maxSelect: 1, cascadeDelete: true },
      ...autodates,
    ],
  })
}

/** A deterministic pseudo-random pick, so every engine gets the same data. */
function picker(seed: number): <T>(xs: T[]) => T {
  let s = seed
  return (xs) => {
    s = (s * 1103515245 + 12345) % 2 ** 31
    return xs[s % xs.length]!
  }
}

/** The PocketBase benchmark's data on a fresh database on `engine`, made once per engine. */
export const pbSeed = once(async (engine: Engine): Promise<PbSeed> => {
  const dbUrl = await freshDb(engine)
  const started = Date.now()
  const seed = await asAdmin(dbUrl, async (admin) => {
    const pick = picker(42)
    await createCollections(admin)
    const range = (n: number) => Array.from({ length: n }, (_, i) => i)
    const organizationIds = await admin.createMany('organizations', range(COUNTS.organizations).map((i) => ({ name: `organizations${i}` })))
    const permissionIds = await admin.createMany('permissions', range(COUNTS.permissions).map((i) => ({ name: `permissions${i}`, active: i % 2 === 0 })))
    const userIds = await admin.createMany('users', range(COUNTS.users).map((i) => ({
      email: `users${i}@example.com`,
      username: `users${i}`,
      organization: pick(organizationIds),
      permissions: [pick(permissionIds), pick(permissionIds), pick(permissionIds)],
      password: PB_PASSWORD,
      passwordConfirm: PB_PASSWORD,
    })))
    await admin.createMany('posts10k', range(COUNTS.posts).map((i) => ({
      title: `posts10k${i}`,
      description: DESCRIPTION,
      public: i % 2 === 1,
      type: [pick(TYPES), pick(TYPES)],
      author: pick(userIds),
    })))
    const user = await signIn(admin.url, 'users0@example.com', PB_PASSWORD)
    return { dbUrl, organizationIds, permissionIds, userIds, userId: user.id, token: user.token }
  })
  process.stderr.write(`bench: seeded PocketBase's data set on ${engine} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
  return seed
})
