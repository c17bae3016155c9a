/**
 * A Fastify app with only the record-auth plugin, over a real database on any engine.
 * The collection registry is a fixed in-test one (the collections work owns the real one), and
 * tables are made with the collections work's own DDL (`createRecordTable`).
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { createAuthenticator } from '../../src/auth/index.ts'
import { hashPassword } from '../../src/auth/password.ts'
import { newTokenKey } from '../../src/auth/tokens.ts'
import { randomString } from '../../src/records/fields/random.ts'
import { recordAuthRoutes } from '../../src/api/record-auth.ts'
import { removeInstallerOnSuperuserCreate } from '../../src/auth/superusers.ts'
import { AuthThrottle, DEFAULT_AUTH_THROTTLE } from '../../src/auth/throttle.ts'
import { memoryCounters } from '../../src/counters/memory.ts'
import { installErrorHandling } from '../../src/api/error-handler.ts'
import { installJsonBodyParser } from '../../src/api/json-body.ts'
import { parseDbUrl } from '../../src/config/urls.ts'
import { createLogger } from '../../src/log.ts'
import type { Mailer, MailMessage } from '../../src/mail/mail.ts'
import { createRecordTable } from '../../src/records/collections/schema-sync.ts'
import { superusersCollection, usersCollection } from '../../src/records/collections/defaults.ts'
import { isMulti, nowDate, type AuthCollection, type Collection } from '../../src/records/model.ts'
import { RecordsService } from '../../src/records/records-service.ts'
import type { CollectionRegistry } from '../../src/records/registry.ts'
import { openSql } from '../../src/sql/open.ts'
import { SqlRouter } from '../../src/sql/router.ts'
import type { SqlEngine } from '../../src/sql/sql.ts'
import { createTestDb, type EngineName, type TestDb } from '../helpers/engines.ts'
import { decorateClientIp } from '../../src/api/client-ip.ts'

export class StaticRegistry implements CollectionRegistry {
  constructor(private readonly list: Collection[]) {}
  get(idOrName: string) {
    return this.list.find((c) => c.id === idOrName) ?? this.list.find((c) => c.name.toLowerCase() === idOrName.toLowerCase())
  }
  getOrThrow(idOrName: string): Collection {
    const c = this.get(idOrName)
    if (!c) throw new Error(`no collection ${idOrName}`)
    return c
  }
  all() {
    return this.list
  }
  async reload() {}
}

/** Collects sent mails; `next()` waits for the next one (the API sends some in the background). */
export class CaptureMailer implements Mailer {
  readonly name = 'log' as const
  readonly sent: MailMessage[] = []
  private waiters: ((m: MailMessage) => void)[] = []
  async send(m: MailMessage) {
    this.sent.push(m)
    this.waiters.shift()?.(m)
  }
  async close() {}
  next(timeoutMs = 5000): Promise<MailMessage> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no mail sent')), timeoutMs)
      this.waiters.push((m) => (clearTimeout(t), resolve(m)))
    })
  }
}

export interface Harness {
  testDb: TestDb
  engine: SqlEngine
  http: FastifyInstance
  registry: StaticRegistry
  /** The records service over the same database, as the app wires it (installer removal included). */
  records: RecordsService
  users: AuthCollection
  superusers: AuthCollection
  mail: CaptureMailer
  close(): Promise<void>
}

export async function startHarness(engineName: EngineName): Promise<Harness> {
  const testDb = await createTestDb(engineName)
  const engine = await openSql(parseDbUrl(testDb.url, 'db'))
  const users = usersCollection()
  const superusers = superusersCollection()
  for (const c of [users, superusers]) await createRecordTable(engine.db, engine.dialect, c)
  const registry = new StaticRegistry([users, superusers])
  // One throttle, as the app has: sign-ins and the records service's password-change check share it.
  const counters = memoryCounters()
  const throttle = new AuthThrottle(counters, DEFAULT_AUTH_THROTTLE)
  const records = new RecordsService(registry, new SqlRouter(engine), undefined, throttle)
  removeInstallerOnSuperuserCreate(records)
  const mail = new CaptureMailer()
  const http = Fastify({ loggerInstance: createLogger({ logLevel: 'silent' }) as FastifyBaseLogger })
  decorateClientIp(http, { trustProxy: false, trustedProxy: { headers: ['X-Forwarded-For'], useLeftmostIP: false } })
  installErrorHandling(http)
  installJsonBodyParser(http)
  const authenticate = createAuthenticator({ registry, db: () => engine.db })
  http.decorateRequest('auth', null)
  http.addHook('onRequest', async (request) => {
    request.auth = await authenticate(request)
  })
  await http.register(recordAuthRoutes, {
    registry,
    records,
    counters,
    throttle,
    db: () => engine,
    mail,
    authenticate,
    appName: 'Acme',
    appUrl: 'https://app.example.com',
  })
  await http.ready()
  return {
    testDb, engine, http, registry, records, users, superusers, mail,
    async close() {
      await http.close()
      await engine.close()
      await testDb.drop()
    },
  }
}

/** Inserts an auth record with storage defaults for every other field (test data only). */
export async function insertAuthRecord(
  h: Harness,
  c: AuthCollection,
  data: { email: string; password: string; verified?: boolean; extra?: Record<string, unknown> },
): Promise<string> {
  const now = nowDate()
  const values: Record<string, unknown> = {}
  for (const f of c.fields) {
    values[f.name] = isMulti(f) ? '[]' : f.type === 'number' || f.type === 'bool' ? 0 : f.type === 'json' ? null : f.type === 'autodate' ? now : ''
  }
  const id = randomString(15, 'abcdefghijklmnopqrstuvwxyz0123456789')
  Object.assign(values, {
    id,
    email: data.email,
    password: await hashPassword(data.password),
    tokenKey: newTokenKey(),
    verified: data.verified ? 1 : 0,
    ...data.extra,
  })
  await h.engine.db.insertInto(c.name).values(values).execute()
  return id
}
