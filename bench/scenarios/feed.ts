/**
 * A bigger table: 10,000 `articles` by 10 users, any signed-in user may read them. A page of 20
 * newest first (`sort=-created`) with totals and with `skipTotal=1`, one article with its
 * author expanded, and `auth-refresh`. Each on SQLite, PostgreSQL and MariaDB against bare
 * Fastify running the same SQL.
 */
import { ALL_ENGINES, asAdmin, createUsers, ENGINE_LABEL, ENGINE_NAME, filler, freshDb, once, OWNED_TEXT_FIELDS, type Engine } from '../lib/seed.ts'
import { bareAndPlinth } from '../lib/targets.ts'
import type { BenchRequest, Scenario } from '../lib/types.ts'

interface Seed {
  dbUrl: string
  token: string
  userId: string
  articleId: string
}

export const ARTICLES = 10_000
const SIGNED_IN = '@request.auth.id != ""'

/** `articles` (index on `created`), 10 users, 10,000 articles seeded through batch requests. */
export const seed = once(async (engine: Engine): Promise<Seed> => {
  const dbUrl = await freshDb(engine)
  return asAdmin(dbUrl, async (admin) => {
    await admin.call('POST', '/api/collections', {
      name: 'articles',
      listRule: SIGNED_IN,
      viewRule: SIGNED_IN,
      fields: OWNED_TEXT_FIELDS,
      indexes: ['CREATE INDEX idx_articles_created ON articles (created)'],
    })
    const { ids, first } = await createUsers(admin, Array.from({ length: 10 }, (_, i) => `user${i}`))
    const articles = Array.from({ length: ARTICLES }, (_, i) => ({ title: `article ${i}`, body: filler(200), owner: ids[i % ids.length] }))
    const [articleId] = await admin.createMany('articles', articles)
    return { dbUrl, token: first.token, userId: first.id, articleId: articleId! }
  })
})

const as = (s: Seed, path: string, method: BenchRequest['method'] = 'GET'): BenchRequest => ({ method, path, headers: { authorization: s.token } })
const requests = {
  list: (s: Seed) => as(s, '/api/collections/articles/records?perPage=20&sort=-created'),
  'list-skiptotal': (s: Seed) => as(s, '/api/collections/articles/records?perPage=20&sort=-created&skipTotal=1'),
  'view-expand': (s: Seed) => as(s, `/api/collections/articles/records/${s.articleId}?expand=owner`),
  'auth-refresh': (s: Seed) => as(s, '/api/collections/users/auth-refresh', 'POST'),
}
const describe: Record<keyof typeof requests, string> = {
  list: `GET 20 of ${ARTICLES.toLocaleString('en-US')} articles, sort=-created, with totals, rule ${SIGNED_IN}`,
  'list-skiptotal': `GET 20 of ${ARTICLES.toLocaleString('en-US')} articles, sort=-created, skipTotal=1, rule ${SIGNED_IN}`,
  'view-expand': 'GET one article by id with expand=owner (the author, a users record)',
  'auth-refresh': 'POST /api/collections/users/auth-refresh with a user token',
}

export default ALL_ENGINES.flatMap((engine) =>
  (Object.keys(requests) as (keyof typeof requests)[]).map((kind) => ({
    name: `feed-${kind}-${ENGINE_LABEL[engine]}`,
    description: `${describe[kind]}, ${ENGINE_NAME[engine]}`,
    reference: 'fastify-bare',
    targets: bareAndPlinth({ engine, seed, server: 'fastify-feed.mjs', args: (s) => [s.userId], does: 'the same queries', request: requests[kind] }),
  })),
) satisfies Scenario[]
