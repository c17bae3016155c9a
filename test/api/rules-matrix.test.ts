/**
 * API rules as PocketBase applies them (apis/record_crud.go, apis/batch.go, apis/record_helpers.go,
 * core/record_field_resolver_runner.go, forms/record_upsert.go), as one scenario table over HTTP:
 * rule x caller (guest, owner, other user, manager, superuser) x endpoint (list, view, create,
 * update, delete, batch, expand) x payload (plain fields, `x+`/`+x`/`x-` modifiers,
 * `@request.body` rules, hidden fields in filter/sort/fields, null rules, manageRule).
 * One app per engine. Expected values are PocketBase's, except where Plinth is stricter on purpose
 * (said on the row).
 *
 * Facts from PocketBase used here:
 * - a null rule is 403 "Only superusers can perform this action." for everyone but superusers;
 * - a failing list rule filters rows; failing view/update/delete rules are 404; a failing create rule is 400;
 * - `@request.body.x` sees the body AFTER modifiers are resolved (`record.ReplaceModifiers`), so
 *   `{"role+":"admin"}` is `role = "admin"` to a rule;
 * - non-superusers filtering or sorting by `@collection.`/`@request.` get 403;
 * - hidden fields are not filterable/sortable by non-superusers (400), never shown, and dropped
 *   from their bodies; `email` in a filter only matches records with `emailVisibility = true`;
 * - expand applies each related collection's view rule; a null view rule leaves it unexpanded;
 * - only managers (manageRule) change another record's email/verified or a password without oldPassword.
 */
import { after, before, describe, test } from 'node:test'
import { checkResponse, multipart, startApp, type ApiScenario, type TestApp } from '../helpers/app.ts'
import { engines } from '../helpers/engines.ts'

// Fixed ids (15 characters, PocketBase's default id pattern) so URLs can be written in the table.
const ALICE = 'alice0000000001' // owner; emailVisibility off; role user
const BOB = 'bob000000000001' // other user; emailVisibility on
const ADMIN = 'admin0000000001' // role admin: a manager of users (manageRule)
const MANAGED = 'managed00000001' // a user the manager edits
const SU_EDIT = 'suedit000000001' // a user the superuser edits
const ALICE_NOTE = 'alicenote000001'
const ALICE_NOTE_MOD = 'alicenote000002' // for updates that succeed
const ALICE_NOTE_DEL = 'alicenote000003' // for the delete that succeeds
const BOB_NOTE = 'bobnote00000001'
const ORPHAN_NOTE = 'orphannote00001' // owner ''
const LOCKED = 'locked000000001'
const PUB = 'public000000001'

type Caller = 'guest' | 'alice' | 'bob' | 'admin' | 'su'

interface Row extends ApiScenario {
  as: Caller
  /** A follow-up the superuser sends, proving what the request did or did not change. */
  then?: { url: string; expectedStatus?: number; expectedContent?: string[]; notExpectedContent?: string[] }
}

const q = (s: string) => encodeURIComponent(s)
const notes = '/api/collections/notes/records'
const users = '/api/collections/users/records'
const locked = '/api/collections/locked/records'
const pub = '/api/collections/public/records'
const batch = (...requests: { method: string; url: string; body?: Record<string, unknown> }[]) => ({ requests })
/** A multipart body for a row (what the SDK sends when a body holds files). */
const form = (parts: [string, string][]) => multipart(parts)
const newUser = (n: string, extra: Record<string, unknown> = {}) => ({ email: `${n}@example.com`, password: 'password-123', passwordConfirm: 'password-123', ...extra })

const rows: Row[] = [
  // --- null rules: superusers only (403 for everyone else, on every endpoint)
  { name: 'null listRule: guest 403', as: 'guest', method: 'GET', url: locked, expectedStatus: 403, expectedContent: ['Only superusers can perform this action.'] },
  { name: 'null listRule: user 403', as: 'alice', method: 'GET', url: locked, expectedStatus: 403 },
  { name: 'null listRule: superuser 200', as: 'su', method: 'GET', url: locked, expectedStatus: 200, expectedContent: [LOCKED, 'locked title'] },
  { name: 'null viewRule: user 403', as: 'alice', method: 'GET', url: `${locked}/${LOCKED}`, expectedStatus: 403 },
  { name: 'null viewRule: superuser 200', as: 'su', method: 'GET', url: `${locked}/${LOCKED}`, expectedStatus: 200 },
  { name: 'null createRule: user 403', as: 'alice', method: 'POST', url: locked, body: { title: 'x' }, expectedStatus: 403 },
  { name: 'null updateRule: user 403, unchanged', as: 'alice', method: 'PATCH', url: `${locked}/${LOCKED}`, body: { title: 'changed' }, expectedStatus: 403, then: { url: `${locked}/${LOCKED}`, expectedContent: ['"locked title"'] } },
  { name: 'null deleteRule: guest 403, kept', as: 'guest', method: 'DELETE', url: `${locked}/${LOCKED}`, expectedStatus: 403, then: { url: `${locked}/${LOCKED}`, expectedStatus: 200 } },
  { name: 'null createRule in a batch: 400 naming the request, 403 inside', as: 'alice', method: 'POST', url: '/api/batch', body: batch({ method: 'POST', url: locked, body: { title: 'x' } }), expectedStatus: 400, expectedContent: ['batch_request_failed', '"status":403'] },

  // --- owner rules: list filters, view/update/delete 404, create 400
  { name: 'owner lists own notes only', as: 'alice', method: 'GET', url: notes, expectedStatus: 200, expectedContent: [ALICE_NOTE], notExpectedContent: [BOB_NOTE, ORPHAN_NOTE] },
  { name: 'other user lists only theirs', as: 'bob', method: 'GET', url: notes, expectedStatus: 200, expectedContent: [BOB_NOTE], notExpectedContent: [ALICE_NOTE, ORPHAN_NOTE] },
  { name: 'a client filter cannot widen the list rule', as: 'bob', method: 'GET', url: `${notes}?filter=${q(`owner = "${ALICE}" || id != ""`)}`, expectedStatus: 200, notExpectedContent: [ALICE_NOTE] },
  { name: 'superuser lists every note', as: 'su', method: 'GET', url: notes, expectedStatus: 200, expectedContent: [ALICE_NOTE, BOB_NOTE, ORPHAN_NOTE] },
  { name: 'owner views own note', as: 'alice', method: 'GET', url: `${notes}/${ALICE_NOTE}`, expectedStatus: 200, expectedContent: ['alice note text'] },
  { name: 'other user viewing: 404', as: 'bob', method: 'GET', url: `${notes}/${ALICE_NOTE}`, expectedStatus: 404, notExpectedContent: ['alice note text'] },
  { name: 'guest viewing: 404', as: 'guest', method: 'GET', url: `${notes}/${ALICE_NOTE}`, expectedStatus: 404 },
  { name: 'superuser views any note', as: 'su', method: 'GET', url: `${notes}/${ALICE_NOTE}`, expectedStatus: 200 },
  { name: 'other user updating: 404, unchanged', as: 'bob', method: 'PATCH', url: `${notes}/${ALICE_NOTE}`, body: { text: 'pwned' }, expectedStatus: 404, then: { url: `${notes}/${ALICE_NOTE}`, expectedContent: ['alice note text'] } },
  { name: 'guest updating: 404', as: 'guest', method: 'PATCH', url: `${notes}/${ALICE_NOTE}`, body: { text: 'pwned' }, expectedStatus: 404 },
  { name: 'other user deleting: 404, kept', as: 'bob', method: 'DELETE', url: `${notes}/${ALICE_NOTE}`, expectedStatus: 404, then: { url: `${notes}/${ALICE_NOTE}`, expectedStatus: 200 } },
  { name: 'owner deletes own note: 204', as: 'alice', method: 'DELETE', url: `${notes}/${ALICE_NOTE_DEL}`, expectedStatus: 204, then: { url: `${notes}/${ALICE_NOTE_DEL}`, expectedStatus: 404 } },
  { name: 'owner creates a note for self', as: 'alice', method: 'POST', url: notes, body: { id: 'alicenew0000001', text: 'mine', owner: ALICE }, expectedStatus: 200, expectedContent: ['alicenew0000001'] },
  { name: 'create for another owner: 400, nothing kept', as: 'bob', method: 'POST', url: notes, body: { id: 'forged000000001', text: 'forged', owner: ALICE }, expectedStatus: 400, then: { url: `${notes}/forged000000001`, expectedStatus: 404 } },
  { name: 'guest create: 400', as: 'guest', method: 'POST', url: notes, body: { text: 'anon', owner: ALICE }, expectedStatus: 400 },
  { name: 'superuser creates for anyone', as: 'su', method: 'POST', url: notes, body: { text: 'by root', owner: BOB }, expectedStatus: 200 },

  // --- records with an empty owner: PocketBase lets a guest match '' = ''; Plinth never lets a guest match an empty field
  { name: 'guest list does not match empty owners (Plinth stricter)', as: 'guest', method: 'GET', url: notes, expectedStatus: 200, expectedContent: ['"totalItems":0'], notExpectedContent: [ORPHAN_NOTE] },
  { name: 'guest view of an ownerless note: 404 (Plinth stricter)', as: 'guest', method: 'GET', url: `${notes}/${ORPHAN_NOTE}`, expectedStatus: 404 },
  { name: 'guest update of an ownerless note: 404 (Plinth stricter)', as: 'guest', method: 'PATCH', url: `${notes}/${ORPHAN_NOTE}`, body: { text: 'mine now' }, expectedStatus: 404, then: { url: `${notes}/${ORPHAN_NOTE}`, expectedContent: ['orphan text'] } },
  { name: 'guest delete of an ownerless note: 404 (Plinth stricter)', as: 'guest', method: 'DELETE', url: `${notes}/${ORPHAN_NOTE}`, expectedStatus: 404, then: { url: `${notes}/${ORPHAN_NOTE}`, expectedStatus: 200 } },

  // --- @request.body rules see values after modifiers (users: createRule `@request.body.role:isset = false`)
  { name: 'signup without role', as: 'guest', method: 'POST', url: users, body: newUser('signup1'), expectedStatus: 200, expectedContent: ['"role":""'] },
  { name: 'signup with role: 400', as: 'guest', method: 'POST', url: users, body: newUser('signup2', { role: 'admin' }), expectedStatus: 400, then: { url: `${users}?filter=${q('email = "signup2@example.com"')}`, expectedContent: ['"totalItems":0'] } },
  { name: 'signup with role+: 400', as: 'guest', method: 'POST', url: users, body: newUser('signup3', { 'role+': 'admin' }), expectedStatus: 400, then: { url: `${users}?filter=${q('email = "signup3@example.com"')}`, expectedContent: ['"totalItems":0'] } },
  { name: 'signup with +role: 400', as: 'guest', method: 'POST', url: users, body: newUser('signup4', { '+role': 'admin' }), expectedStatus: 400 },
  { name: 'signup with verified: 400 (only managers set it)', as: 'guest', method: 'POST', url: users, body: newUser('signup5', { verified: true }), expectedStatus: 400 },
  { name: 'self update with role: 404, unchanged', as: 'alice', method: 'PATCH', url: `${users}/${ALICE}`, body: { role: 'admin' }, expectedStatus: 404, then: { url: `${users}/${ALICE}`, expectedContent: ['"role":"user"'] } },
  { name: 'self update with role+: 404, unchanged', as: 'alice', method: 'PATCH', url: `${users}/${ALICE}`, body: { 'role+': 'admin' }, expectedStatus: 404, then: { url: `${users}/${ALICE}`, expectedContent: ['"role":"user"'] } },
  { name: 'self update with +role: 404, unchanged', as: 'alice', method: 'PATCH', url: `${users}/${ALICE}`, body: { '+role': 'admin' }, expectedStatus: 404, then: { url: `${users}/${ALICE}`, expectedContent: ['"role":"user"'] } },
  { name: 'self update with role-: 404, unchanged', as: 'alice', method: 'PATCH', url: `${users}/${ALICE}`, body: { 'role-': 'user' }, expectedStatus: 404, then: { url: `${users}/${ALICE}`, expectedContent: ['"role":"user"'] } },
  { name: 'self update with role+ as a form field: 404, unchanged', as: 'alice', method: 'PATCH', url: `${users}/${ALICE}`, ...form([['role+', 'admin']]), expectedStatus: 404, then: { url: `${users}/${ALICE}`, expectedContent: ['"role":"user"'] } },
  { name: 'self update with role+ in @jsonPayload: 404, unchanged', as: 'alice', method: 'PATCH', url: `${users}/${ALICE}`, ...form([['@jsonPayload', JSON.stringify({ 'role+': 'admin' })]]), expectedStatus: 404, then: { url: `${users}/${ALICE}`, expectedContent: ['"role":"user"'] } },
  { name: 'self update with role as a form field: 404, unchanged', as: 'alice', method: 'PATCH', url: `${users}/${ALICE}`, ...form([['role', 'admin']]), expectedStatus: 404, then: { url: `${users}/${ALICE}`, expectedContent: ['"role":"user"'] } },
  { name: 'self update of a plain field passes the rule', as: 'alice', method: 'PATCH', url: `${users}/${ALICE}`, body: { name: 'Alice A' }, expectedStatus: 200, expectedContent: ['"name":"Alice A"', '"role":"user"'] },
  { name: 'role+ in a batch: 400, unchanged', as: 'alice', method: 'POST', url: '/api/batch', body: batch({ method: 'PATCH', url: `${users}/${ALICE}`, body: { 'role+': 'admin' } }), expectedStatus: 400, then: { url: `${users}/${ALICE}`, expectedContent: ['"role":"user"'] } },
  { name: 'superuser sets a role with role+', as: 'su', method: 'PATCH', url: `${users}/${SU_EDIT}`, body: { 'role+': 'admin' }, expectedStatus: 200, expectedContent: ['"role":"admin"'] },

  // notes: updateRule `owner = @request.auth.id && @request.body.owner:isset = false && (@request.body.views:isset = false || @request.body.views <= 10)`
  { name: 'owner moving a note with owner: 404, unchanged', as: 'alice', method: 'PATCH', url: `${notes}/${ALICE_NOTE}`, body: { owner: BOB }, expectedStatus: 404, then: { url: `${notes}/${ALICE_NOTE}`, expectedContent: [`"owner":"${ALICE}"`] } },
  { name: 'owner moving a note with owner+: 404, unchanged', as: 'alice', method: 'PATCH', url: `${notes}/${ALICE_NOTE}`, body: { 'owner+': BOB }, expectedStatus: 404, then: { url: `${notes}/${ALICE_NOTE}`, expectedContent: [`"owner":"${ALICE}"`] } },
  { name: 'owner moving a note with +owner: 404, unchanged', as: 'alice', method: 'PATCH', url: `${notes}/${ALICE_NOTE}`, body: { '+owner': BOB }, expectedStatus: 404, then: { url: `${notes}/${ALICE_NOTE}`, expectedContent: [`"owner":"${ALICE}"`] } },
  { name: 'owner clearing the owner with owner-: 404, unchanged', as: 'alice', method: 'PATCH', url: `${notes}/${ALICE_NOTE}`, body: { 'owner-': ALICE }, expectedStatus: 404, then: { url: `${notes}/${ALICE_NOTE}`, expectedContent: [`"owner":"${ALICE}"`] } },
  { name: 'owner+ on another user\'s note: 404, unchanged', as: 'bob', method: 'PATCH', url: `${notes}/${ALICE_NOTE}`, body: { 'owner+': BOB }, expectedStatus: 404, then: { url: `${notes}/${ALICE_NOTE}`, expectedContent: [`"owner":"${ALICE}"`] } },
  { name: 'owner+ in a batch upsert of another user\'s note: 400, unchanged', as: 'bob', method: 'POST', url: '/api/batch', body: batch({ method: 'PUT', url: notes, body: { id: ALICE_NOTE, 'owner+': BOB } }), expectedStatus: 400, then: { url: `${notes}/${ALICE_NOTE}`, expectedContent: [`"owner":"${ALICE}"`] } },
  { name: 'views over the limit: 404', as: 'alice', method: 'PATCH', url: `${notes}/${ALICE_NOTE}`, body: { views: 100 }, expectedStatus: 404, then: { url: `${notes}/${ALICE_NOTE}`, expectedContent: ['"views":0'] } },
  { name: 'views+ over the limit: 404, unchanged', as: 'alice', method: 'PATCH', url: `${notes}/${ALICE_NOTE}`, body: { 'views+': 100 }, expectedStatus: 404, then: { url: `${notes}/${ALICE_NOTE}`, expectedContent: ['"views":0'] } },
  { name: 'views+ within the limit: 200', as: 'alice', method: 'PATCH', url: `${notes}/${ALICE_NOTE_MOD}`, body: { 'views+': 4 }, expectedStatus: 200, expectedContent: ['"views":4'] },
  { name: 'tags+ and tags- on a multi select: 200', as: 'alice', method: 'PATCH', url: `${notes}/${ALICE_NOTE_MOD}`, body: { 'tags+': 'c', 'tags-': 'a' }, expectedStatus: 200, expectedContent: ['"tags":["b","c"]'] },
  { name: 'bob batch-deleting alice\'s note: 400, kept', as: 'bob', method: 'POST', url: '/api/batch', body: batch({ method: 'DELETE', url: `${notes}/${ALICE_NOTE}` }), expectedStatus: 400, then: { url: `${notes}/${ALICE_NOTE}`, expectedStatus: 200 } },
  { name: 'bob batch-creating a note for alice: 400, nothing kept', as: 'bob', method: 'POST', url: '/api/batch', body: batch({ method: 'POST', url: notes, body: { id: 'forged000000002', owner: ALICE } }), expectedStatus: 400, then: { url: `${notes}/forged000000002`, expectedStatus: 404 } },
  { name: 'alice batch-creating her own note', as: 'alice', method: 'POST', url: '/api/batch', body: batch({ method: 'POST', url: notes, body: { id: 'alicebatch00001', owner: ALICE } }), expectedStatus: 200, expectedContent: ['alicebatch00001'] },

  // --- hidden fields (notes.memo, users.secret) and email
  { name: 'hidden field not shown to the owner', as: 'alice', method: 'GET', url: `${notes}/${ALICE_NOTE}`, expectedStatus: 200, notExpectedContent: ['alice-memo', '"memo"'] },
  { name: 'hidden field not shown through fields=', as: 'alice', method: 'GET', url: `${notes}/${ALICE_NOTE}?fields=${q('id,memo')}`, expectedStatus: 200, notExpectedContent: ['alice-memo', '"memo"'] },
  { name: 'hidden field in a filter: 400', as: 'alice', method: 'GET', url: `${notes}?filter=${q('memo = "alice-memo"')}`, expectedStatus: 400, notExpectedContent: [ALICE_NOTE] },
  { name: 'hidden field in a sort: 400', as: 'alice', method: 'GET', url: `${notes}?sort=memo`, expectedStatus: 400 },
  { name: 'hidden field of another collection in a filter: 400', as: 'guest', method: 'GET', url: `${users}?filter=${q('secret = "alice-secret"')}`, expectedStatus: 400 },
  { name: 'password in a filter: 400', as: 'guest', method: 'GET', url: `${users}?filter=${q('password != ""')}`, expectedStatus: 400 },
  { name: 'tokenKey in a filter: 400', as: 'guest', method: 'GET', url: `${users}?filter=${q('tokenKey != ""')}`, expectedStatus: 400 },
  { name: 'hidden field through a relation in a filter: 400', as: 'guest', method: 'GET', url: `${pub}?filter=${q('author.secret = "alice-secret"')}`, expectedStatus: 400 },
  { name: 'hidden field through a back-relation in a filter: 400', as: 'guest', method: 'GET', url: `${users}?filter=${q('notes_via_owner.memo ?= "alice-memo"')}`, expectedStatus: 400 },
  { name: 'hidden field of the owner in a filter: 400', as: 'alice', method: 'GET', url: `${notes}?filter=${q('owner.secret = "alice-secret"')}`, expectedStatus: 400 },
  { name: 'hidden field in fields= of a list: not shown', as: 'alice', method: 'GET', url: `${notes}?fields=${q('id,memo')}`, expectedStatus: 200, expectedContent: [ALICE_NOTE], notExpectedContent: ['alice-memo'] },
  { name: 'superuser filters by a hidden field', as: 'su', method: 'GET', url: `${notes}?filter=${q('memo = "alice-memo"')}`, expectedStatus: 200, expectedContent: ['"totalItems":1', ALICE_NOTE, 'alice-memo'] },
  { name: 'hidden field in an owner\'s body is dropped', as: 'alice', method: 'POST', url: notes, body: { id: 'alicememo000001', owner: ALICE, memo: 'set by alice' }, expectedStatus: 200, then: { url: `${notes}/alicememo000001`, notExpectedContent: ['set by alice'] } },
  { name: 'email without emailVisibility is no filter oracle', as: 'bob', method: 'GET', url: `${users}?filter=${q('email = "alice@example.com"')}`, expectedStatus: 200, expectedContent: ['"totalItems":0'], notExpectedContent: [ALICE] },
  { name: 'email prefix search is no oracle either', as: 'guest', method: 'GET', url: `${users}?filter=${q('email ~ "alice%"')}`, expectedStatus: 200, expectedContent: ['"totalItems":0'] },
  { name: 'email with emailVisibility is filterable', as: 'guest', method: 'GET', url: `${users}?filter=${q('email = "bob@example.com"')}`, expectedStatus: 200, expectedContent: ['"totalItems":1', BOB, 'bob@example.com'] },
  { name: 'email hidden from other users', as: 'bob', method: 'GET', url: `${users}/${ALICE}`, expectedStatus: 200, notExpectedContent: ['alice@example.com', 'alice-secret'] },
  { name: 'own email shown', as: 'alice', method: 'GET', url: `${users}/${ALICE}`, expectedStatus: 200, expectedContent: ['alice@example.com'], notExpectedContent: ['alice-secret', 'tokenKey', 'password'] },
  { name: 'email shown to a manager', as: 'admin', method: 'GET', url: `${users}/${ALICE}`, expectedStatus: 200, expectedContent: ['alice@example.com'] },
  { name: 'email and hidden fields shown to a superuser', as: 'su', method: 'GET', url: `${users}/${ALICE}`, expectedStatus: 200, expectedContent: ['alice@example.com', 'alice-secret'] },

  // --- @collection / @request in client filters and sorts: superusers only (403)
  { name: 'guest filtering by @collection: 403', as: 'guest', method: 'GET', url: `${pub}?filter=${q('@collection.locked.title ?= "locked title"')}`, expectedStatus: 403, notExpectedContent: [PUB] },
  { name: 'user filtering by @collection: 403', as: 'alice', method: 'GET', url: `${pub}?filter=${q('@collection.notes.memo ?= "bob-memo"')}`, expectedStatus: 403 },
  { name: 'user filtering by @request: 403', as: 'alice', method: 'GET', url: `${pub}?filter=${q('@request.auth.id != ""')}`, expectedStatus: 403 },
  { name: 'user sorting by @request: 403', as: 'alice', method: 'GET', url: `${pub}?sort=${q('@request.auth.id')}`, expectedStatus: 403 },
  { name: 'superuser filters by @collection', as: 'su', method: 'GET', url: `${pub}?filter=${q('@collection.locked.title ?= "locked title"')}`, expectedStatus: 200, expectedContent: [PUB] },

  // --- a client filter through a relation sees the related collection through its list rule
  // (core/record_field_resolver.go registerJoin: a null list rule is an error, any other is ANDed in)
  { name: 'other user probing a related owner-only record: no match', as: 'bob', method: 'GET', url: `${pub}?filter=${q('note.text = "alice note text"')}`, expectedStatus: 200, expectedContent: ['"totalItems":0'], notExpectedContent: [PUB] },
  { name: 'guest probing a related owner-only record: no match', as: 'guest', method: 'GET', url: `${pub}?filter=${q('note.text ~ "alice%"')}`, expectedStatus: 200, expectedContent: ['"totalItems":0'] },
  { name: 'owner filtering through the relation: matches', as: 'alice', method: 'GET', url: `${pub}?filter=${q('note.text = "alice note text"')}`, expectedStatus: 200, expectedContent: ['"totalItems":1', PUB] },
  { name: 'filter through a relation to a null list rule collection: 400', as: 'alice', method: 'GET', url: `${pub}?filter=${q('locked.title = "locked title"')}`, expectedStatus: 400, notExpectedContent: [PUB] },
  { name: 'back-relation probing another user\'s notes: no match', as: 'bob', method: 'GET', url: `${users}?filter=${q('notes_via_owner.text ?= "alice note text"')}`, expectedStatus: 200, expectedContent: ['"totalItems":0'] },
  { name: 'superuser filters through any relation', as: 'su', method: 'GET', url: `${pub}?filter=${q('locked.title = "locked title" && note.text = "alice note text"')}`, expectedStatus: 200, expectedContent: ['"totalItems":1'] },

  // --- expand applies the related collection's view rule
  { name: 'guest expand of an owner-only relation: not expanded', as: 'guest', method: 'GET', url: `${pub}/${PUB}?expand=note`, expectedStatus: 200, expectedContent: [PUB], notExpectedContent: ['alice note text'] },
  { name: 'other user expand of an owner-only relation: not expanded', as: 'bob', method: 'GET', url: `${pub}?expand=note`, expectedStatus: 200, expectedContent: [PUB], notExpectedContent: ['alice note text'] },
  { name: 'owner expand: expanded', as: 'alice', method: 'GET', url: `${pub}/${PUB}?expand=note`, expectedStatus: 200, expectedContent: ['alice note text'], notExpectedContent: ['alice-memo'] },
  { name: 'expand of a null view rule collection: not expanded', as: 'alice', method: 'GET', url: `${pub}/${PUB}?expand=locked`, expectedStatus: 200, notExpectedContent: ['locked title'] },
  { name: 'superuser expands everything, hidden fields included', as: 'su', method: 'GET', url: `${pub}/${PUB}?expand=${q('note,locked,author')}`, expectedStatus: 200, expectedContent: ['alice note text', 'locked title', 'alice-memo', 'alice-secret'] },
  { name: 'expanded user: email and hidden fields stay hidden', as: 'bob', method: 'GET', url: `${pub}/${PUB}?expand=author`, expectedStatus: 200, expectedContent: [`"id":"${ALICE}"`], notExpectedContent: ['alice@example.com', 'alice-secret'] },
  { name: 'expand of a back-relation applies its view rule', as: 'bob', method: 'GET', url: `${users}/${ALICE}?expand=notes_via_owner`, expectedStatus: 200, notExpectedContent: ['alice note text', ALICE_NOTE] },
  { name: 'expand of a back-relation for the owner', as: 'alice', method: 'GET', url: `${users}/${ALICE}?expand=notes_via_owner`, expectedStatus: 200, expectedContent: ['alice note text'], notExpectedContent: ['alice-memo'] },
  { name: 'hidden field of an expanded record through fields=: not shown', as: 'alice', method: 'GET', url: `${pub}/${PUB}?expand=note&fields=${q('id,expand.note.memo,expand.note.text')}`, expectedStatus: 200, expectedContent: ['alice note text'], notExpectedContent: ['alice-memo'] },
  { name: 'expand inside a batch create answers with the caller\'s rules', as: 'bob', method: 'POST', url: '/api/batch', body: batch({ method: 'POST', url: `${pub}?expand=note`, body: { title: 'via batch', note: ALICE_NOTE } }), expectedStatus: 200, expectedContent: ['via batch'], notExpectedContent: ['alice note text'] },

  // --- manageRule (users: `@request.auth.role = "admin"`)
  { name: 'non-manager changing own email directly: 400', as: 'alice', method: 'PATCH', url: `${users}/${ALICE}`, body: { email: 'alice2@example.com' }, expectedStatus: 400, then: { url: `${users}/${ALICE}`, expectedContent: ['alice@example.com'] } },
  { name: 'non-manager verifying self: 400', as: 'alice', method: 'PATCH', url: `${users}/${ALICE}`, body: { verified: true }, expectedStatus: 400, then: { url: `${users}/${ALICE}`, expectedContent: ['"verified":false'] } },
  { name: 'non-manager password change without oldPassword: 400', as: 'alice', method: 'PATCH', url: `${users}/${ALICE}`, body: { password: 'password-456', passwordConfirm: 'password-456' }, expectedStatus: 400, expectedContent: ['oldPassword'] },
  { name: 'manager changes another user\'s email', as: 'admin', method: 'PATCH', url: `${users}/${MANAGED}`, body: { email: 'managed2@example.com' }, expectedStatus: 200, then: { url: `${users}/${MANAGED}`, expectedContent: ['managed2@example.com'] } },
  { name: 'manager verifies another user', as: 'admin', method: 'PATCH', url: `${users}/${MANAGED}`, body: { verified: true }, expectedStatus: 200, expectedContent: ['"verified":true'] },
  { name: 'manager sets a password without oldPassword', as: 'admin', method: 'PATCH', url: `${users}/${MANAGED}`, body: { password: 'password-789', passwordConfirm: 'password-789' }, expectedStatus: 200 },
  { name: 'manager still cannot set a role (update rule)', as: 'admin', method: 'PATCH', url: `${users}/${MANAGED}`, body: { 'role+': 'admin' }, expectedStatus: 404, then: { url: `${users}/${MANAGED}`, expectedContent: ['"role":"user"'] } },
  { name: 'non-manager cannot reach another user', as: 'bob', method: 'PATCH', url: `${users}/${MANAGED}`, body: { name: 'x' }, expectedStatus: 404 },
]

for (const { engine, skip } of await engines()) {
  describe(`API rules matrix: ${engine}`, { skip }, () => {
    let t: TestApp
    const tokens = new Map<Caller, string | undefined>()

    before(async () => {
      t = await startApp(engine)
      const usersCollection = (await t.must('GET', '/api/collections/users')) as { fields: { name: string }[] }
      await t.must('PATCH', '/api/collections/users', {
        listRule: '',
        viewRule: '',
        createRule: '@request.body.role:isset = false',
        updateRule: '(id = @request.auth.id || @request.auth.role = "admin") && @request.body.role:isset = false',
        deleteRule: 'id = @request.auth.id',
        manageRule: '@request.auth.role = "admin"',
        fields: [
          ...usersCollection.fields,
          { name: 'role', type: 'select', values: ['user', 'admin'], maxSelect: 1 },
          { name: 'secret', type: 'text', hidden: true },
        ],
      })
      await t.must('POST', '/api/collections', { name: 'locked', fields: [{ name: 'title', type: 'text' }] })
      const owner = 'owner = @request.auth.id'
      await t.must('POST', '/api/collections', {
        name: 'notes',
        listRule: owner,
        viewRule: owner,
        createRule: `@request.auth.id != "" && ${owner}`,
        updateRule: `${owner} && @request.body.owner:isset = false && (@request.body.views:isset = false || @request.body.views <= 10)`,
        deleteRule: owner,
        fields: [
          { name: 'text', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
          { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
          { name: 'views', type: 'number' },
          { name: 'memo', type: 'text', hidden: true },
        ],
      })
      const notesCollection = (await t.must('GET', '/api/collections/notes')) as { id: string }
      const lockedCollection = (await t.must('GET', '/api/collections/locked')) as { id: string }
      await t.must('POST', '/api/collections', {
        name: 'public',
        listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'note', type: 'relation', collectionId: notesCollection.id, maxSelect: 1 },
          { name: 'locked', type: 'relation', collectionId: lockedCollection.id, maxSelect: 1 },
          { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
        ],
      })
      const user = (id: string, name: string, extra: Record<string, unknown>) => t.must('POST', users, { id, ...newUser(name), role: 'user', ...extra })
      await user(ALICE, 'alice', { emailVisibility: false, secret: 'alice-secret' })
      await user(BOB, 'bob', { emailVisibility: true, secret: 'bob-secret' })
      await user(ADMIN, 'admin', { role: 'admin' })
      await user(MANAGED, 'managed', {})
      await user(SU_EDIT, 'suedit', { role: '' })
      await t.must('POST', notes, { id: ALICE_NOTE, text: 'alice note text', owner: ALICE, memo: 'alice-memo' })
      await t.must('POST', notes, { id: ALICE_NOTE_MOD, text: 'to change', owner: ALICE, tags: ['a', 'b'] })
      await t.must('POST', notes, { id: ALICE_NOTE_DEL, text: 'to delete', owner: ALICE })
      await t.must('POST', notes, { id: BOB_NOTE, text: 'bob note text', owner: BOB, memo: 'bob-memo' })
      await t.must('POST', notes, { id: ORPHAN_NOTE, text: 'orphan text' })
      await t.must('POST', locked, { id: LOCKED, title: 'locked title' })
      await t.must('POST', pub, { id: PUB, title: 'public title', note: ALICE_NOTE, locked: LOCKED, author: ALICE })
      tokens.set('guest', undefined)
      tokens.set('su', t.su)
      tokens.set('alice', await t.login('users', 'alice@example.com', 'password-123'))
      tokens.set('bob', await t.login('users', 'bob@example.com', 'password-123'))
      tokens.set('admin', await t.login('users', 'admin@example.com', 'password-123'))
    })
    after(async () => {
      await t?.close()
    })

    for (const row of rows) {
      test(row.name, async () => {
        try {
          const res = await t.call(row.method, row.url, { token: tokens.get(row.as), body: row.body, headers: row.headers })
          checkResponse(row, res)
          if (row.then) {
            const check = await t.call('GET', row.then.url, { token: t.su })
            checkResponse({ expectedStatus: 200, ...row.then }, check)
          }
        } finally {
          // A row that fails must not change what the next rows start from.
          await t.must('PATCH', `${users}/${ALICE}`, { role: 'user', email: 'alice@example.com', verified: false })
          await t.must('PATCH', `${users}/${MANAGED}`, { role: 'user' })
          await t.must('PATCH', `${notes}/${ALICE_NOTE}`, { owner: ALICE, text: 'alice note text', views: 0 })
        }
      })
    }
  })
}
