import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import ts from 'typescript'
import { VALIDATION_CODES } from '../src/validation-codes.ts'

/**
 * The floors of the house, checked on the source itself (docs/architecture.md describes them):
 * which folder may import which, where engine drivers live, who reads the environment.
 * Each rule names the file and line that breaks it.
 */

const SRC = path.resolve(import.meta.dirname, '..', 'src')

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : []
  })
}

interface Source {
  /** Path under src/, with forward slashes. */
  file: string
  /** The floor: the first folder under src/, or the file's name for a file directly in src/. */
  floor: string
  text: string
  /** The code without comments: string literals and identifiers, one token per entry. */
  tokens: { text: string; line: number }[]
  imports: { spec: string; typeOnly: boolean; line: number }[]
}

function floorOf(rel: string): string {
  const parts = rel.split('/')
  return parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.ts$/, '')
}

function read(abs: string): Source {
  const text = readFileSync(abs, 'utf8')
  const file = path.relative(SRC, abs).split(path.sep).join('/')
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const lineOf = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line + 1
  const imports: Source['imports'] = []
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = ts.isImportDeclaration(node) ? !!node.importClause?.isTypeOnly : node.isTypeOnly
      imports.push({ spec: node.moduleSpecifier.text, typeOnly, line: lineOf(node.getStart()) })
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      imports.push({ spec: node.arguments[0].text, typeOnly: false, line: lineOf(node.getStart()) })
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  // Identifiers and string parts from the syntax tree: comments are trivia, never nodes.
  const tokens: Source['tokens'] = []
  const collect = (node: ts.Node): void => {
    if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) tokens.push({ text: node.text, line: lineOf(node.getStart()) })
    else if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateLiteralToken(node)) tokens.push({ text: node.text, line: lineOf(node.getStart()) })
    else if (node.kind === ts.SyntaxKind.InstanceOfKeyword) tokens.push({ text: 'instanceof', line: lineOf(node.getStart()) })
    ts.forEachChild(node, collect)
  }
  collect(sf)
  return { file, floor: floorOf(file), text, tokens, imports }
}

const sources = walk(SRC).map(read)

/** The floor a relative import lands on, or undefined for a package. */
function target(from: Source, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined
  const rel = path.relative(SRC, path.resolve(SRC, path.dirname(from.file), spec)).split(path.sep).join('/')
  return floorOf(rel)
}

const ENGINE_WORDS = /\b(sqlite\w*|postgres(ql)?|pg|mysql\w*|mariadb|ioredis|redis|better-sqlite3|ER_\w+)\b/i
const DRIVERS: Record<string, string> = { pg: 'sql/postgres/', mysql2: 'sql/mysql/', 'better-sqlite3': 'sql/sqlite/', ioredis: 'redis/' }
/** Floors that hold features: they speak to ports, never to engines. */
const FEATURE_FLOORS = new Set(['records', 'auth', 'api', 'realtime'])

describe('architecture', () => {
  it('has no import cycle between floors', () => {
    const edges = new Map<string, Set<string>>()
    for (const s of sources) {
      for (const imp of s.imports) {
        const to = target(s, imp.spec)
        if (!to || to === s.floor) continue
        if (!edges.has(s.floor)) edges.set(s.floor, new Set())
        edges.get(s.floor)!.add(to)
      }
    }
    const cycles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const visit = (n: string, trail: string[]): void => {
      if (state.get(n) === 'done') return
      if (state.get(n) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(n)), n].join(' -> '))
        return
      }
      state.set(n, 'open')
      for (const m of edges.get(n) ?? []) visit(m, [...trail, n])
      state.set(n, 'done')
    }
    for (const n of [...edges.keys()].sort()) visit(n, [])
    assert.deepEqual(cycles, [])
  })

  it('keeps records/ below auth/ and api/: auth builds on records, never the reverse', () => {
    const above = ['auth', 'api', 'app', 'core', 'cli', 'ports']
    const bad = sources
      .filter((s) => s.floor === 'records')
      .flatMap((s) => s.imports.filter((i) => above.includes(target(s, i.spec) ?? '')).map((i) => `${s.file}:${i.line} imports ${i.spec}`))
    assert.deepEqual(bad, [])
  })

  it('keeps sql/ free of records/, auth/ and api/', () => {
    const bad = sources
      .filter((s) => s.floor === 'sql')
      .flatMap((s) => s.imports.filter((i) => ['records', 'auth', 'api'].includes(target(s, i.spec) ?? '')).map((i) => `${s.file}:${i.line} imports ${i.spec}`))
    assert.deepEqual(bad, [])
  })

  it('imports each driver only inside its engine', () => {
    const bad = sources.flatMap((s) =>
      s.imports
        .filter((i) => !i.typeOnly && i.spec in DRIVERS && !s.file.startsWith(DRIVERS[i.spec]!))
        .map((i) => `${s.file}:${i.line} imports ${i.spec}`),
    )
    assert.deepEqual(bad, [])
  })

  it('names no engine, driver or engine class in records/, auth/ and api/ code', () => {
    const bad: string[] = []
    for (const s of sources.filter((x) => FEATURE_FLOORS.has(x.floor))) {
      for (const imp of s.imports) if (imp.spec in DRIVERS) bad.push(`${s.file}:${imp.line} imports ${imp.spec}`)
      s.tokens.forEach((t, i) => {
        if (ENGINE_WORDS.test(t.text)) bad.push(`${s.file}:${t.line} says ${t.text}`)
        const next = s.tokens[i + 1]?.text ?? ''
        if (t.text === 'instanceof' && /(Adapter|Dialect|Driver|Engine|Pool|Client)$/.test(next)) bad.push(`${s.file}:${t.line} instanceof ${next}`)
      })
    }
    assert.deepEqual(bad, [])
  })

  it('reads process.env only in config/', () => {
    const bad = sources.filter((s) => s.floor !== 'config' && s.tokens.some((t, i) => t.text === 'process' && s.tokens[i + 1]?.text === 'env')).map((s) => s.file)
    assert.deepEqual(bad, [])
  })

  it('keeps files small enough to read as one concept', () => {
    const big = sources.map((s) => [s.file, s.text.split('\n').length] as const).filter(([, n]) => n > 450)
    assert.deepEqual(big, [])
  })

  it('lists only validation codes that some layer uses', () => {
    // The type keeps codes out of the code base unless listed; this keeps dead ones out of the list.
    const used = new Set(sources.filter((s) => s.file !== 'validation-codes.ts').flatMap((s) => s.tokens.map((t) => t.text)))
    assert.deepEqual(VALIDATION_CODES.filter((c) => !used.has(c)), [])
  })
})
