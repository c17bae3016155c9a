import { useRef, useState } from 'preact/hooks'
import { t } from '../i18n.ts'

/** The word being typed before the caret: field names, `@request.auth.x`, `@collection.posts.x`. */
function wordBefore(text: string, caret: number): string {
  return /[@\w.:]*$/.exec(text.slice(0, caret))?.[0] ?? ''
}

/**
 * A rule or filter box with completion: typing a name, `@request.` or `@collection.` lists what
 * may follow (Tab or a click takes the first / the chosen one). `words` is every complete name
 * that may appear.
 */
export function RuleInput(props: { name: string; value: string; words: string[]; onInput: (v: string) => void; placeholder?: string; rows?: number; disabled?: boolean }) {
  const ref = useRef<HTMLTextAreaElement>(null)
  const [caret, setCaret] = useState(-1)
  const word = caret >= 0 ? wordBefore(props.value, caret) : ''
  const suggestions = word.length > 0 ? props.words.filter((w) => w.startsWith(word) && w !== word).slice(0, 8) : []

  const take = (w: string) => {
    const el = ref.current
    if (!el) return
    const start = caret - word.length
    const next = props.value.slice(0, start) + w + props.value.slice(caret)
    props.onInput(next)
    const pos = start + w.length
    setCaret(pos)
    requestAnimationFrame(() => {
      el.focus()
      el.setSelectionRange(pos, pos)
    })
  }

  return (
    <div class="rule-input">
      <textarea
        ref={ref}
        name={props.name}
        rows={props.rows ?? 2}
        spellcheck={false}
        autoComplete="off"
        disabled={props.disabled}
        placeholder={props.placeholder}
        value={props.value}
        onInput={(e) => {
          props.onInput(e.currentTarget.value)
          setCaret(e.currentTarget.selectionStart)
        }}
        onKeyUp={(e) => setCaret(e.currentTarget.selectionStart)}
        onClick={(e) => setCaret(e.currentTarget.selectionStart)}
        onBlur={() => setTimeout(() => setCaret(-1), 150)}
        onKeyDown={(e) => {
          if (e.key === 'Tab' && suggestions[0]) {
            e.preventDefault()
            take(suggestions[0])
          }
        }}
      />
      {suggestions.length > 0 && (
        <ul class="suggestions" role="listbox" aria-label={t('Suggestions')}>
          {suggestions.map((s) => (
            <li role="option" onMouseDown={(e) => { e.preventDefault(); take(s) }}>{s}</li>
          ))}
        </ul>
      )}
    </div>
  )
}

/** Every name a rule of `fields` may use: its own fields, `@request.*`, `@collection.<name>.<field>`, date macros. */
export function ruleWords(fields: { name: string }[], collections: { name: string; fields: { name: string }[] }[], authFields: string[]): string[] {
  const own = fields.map((f) => f.name)
  const words = [
    ...own,
    ...own.map((n) => `@request.body.${n}`),
    ...own.map((n) => `${n}:isset`),
    ...own.map((n) => `${n}:length`),
    ...own.map((n) => `${n}:each`),
    ...authFields.map((n) => `@request.auth.${n}`),
    '@request.auth.collectionName', '@request.method', '@request.context', '@request.query.', '@request.headers.',
    ...collections.flatMap((c) => c.fields.map((f) => `@collection.${c.name}.${f.name}`)),
    '@now', '@today', '@second', '@minute', '@hour', '@weekday', '@day', '@month', '@year',
    '@yesterday', '@tomorrow', '@todayStart', '@todayEnd', '@monthStart', '@monthEnd', '@yearStart', '@yearEnd',
  ]
  return [...new Set(words)]
}
