import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { t } from '../i18n.ts'

/** A labelled form row with its error under it. */
export function Field(props: { label: string; error?: string | undefined; hint?: string; children: ComponentChildren; wide?: boolean }) {
  return (
    <label class={'field' + (props.error ? ' invalid' : '') + (props.wide ? ' wide' : '')}>
      <span class="label">{props.label}</span>
      {props.children}
      {props.hint && <small class="hint">{props.hint}</small>}
      {props.error && <small class="error">{props.error}</small>}
    </label>
  )
}

export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; footer?: ComponentChildren; wide?: boolean }) {
  useEffect(() => {
    const key = (e: KeyboardEvent) => e.key === 'Escape' && props.onClose()
    window.addEventListener('keydown', key)
    return () => window.removeEventListener('keydown', key)
  }, [props.onClose])
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class={'modal' + (props.wide ? ' wide' : '')} role="dialog" aria-label={props.title}>
        <header>
          <h2>{props.title}</h2>
          <button type="button" class="icon" aria-label={t('Close')} onClick={props.onClose}>×</button>
        </header>
        <div class="body">{props.children}</div>
        {props.footer && <footer>{props.footer}</footer>}
      </div>
    </div>
  )
}

type ToastKind = 'ok' | 'error'
let pushToast: ((text: string, kind: ToastKind) => void) | undefined

/** Shows a short message at the bottom of the screen. */
export function toast(text: string, kind: ToastKind = 'ok'): void {
  pushToast?.(text, kind)
}

export function Toasts() {
  const [items, setItems] = useState<{ id: number; text: string; kind: ToastKind }[]>([])
  useEffect(() => {
    let n = 0
    pushToast = (text, kind) => {
      const id = ++n
      setItems((list) => [...list, { id, text, kind }])
      setTimeout(() => setItems((list) => list.filter((i) => i.id !== id)), kind === 'error' ? 6000 : 3000)
    }
    return () => (pushToast = undefined)
  }, [])
  return (
    <div class="toasts" role="status">
      {items.map((i) => <div key={i.id} class={'toast ' + i.kind}>{i.text}</div>)}
    </div>
  )
}

export function Spinner() {
  return <div class="spinner" aria-label={t('Loading…')} />
}

/** A button that disables itself while its async action runs. */
export function AsyncButton(props: { onClick: () => Promise<unknown>; children: ComponentChildren; class?: string; type?: 'button' | 'submit'; disabled?: boolean }) {
  const [busy, setBusy] = useState(false)
  const click = async (e: MouseEvent) => {
    e.preventDefault()
    setBusy(true)
    try {
      await props.onClick()
    } finally {
      setBusy(false)
    }
  }
  return <button type={props.type ?? 'button'} class={props.class} disabled={busy || props.disabled} onClick={click}>{props.children}</button>
}

/** Tabs over a page's sections. */
export function Tabs<T extends string>(props: { tabs: readonly { id: T; label: string }[]; value: T; onChange: (id: T) => void }) {
  return (
    <nav class="tabs" role="tablist">
      {props.tabs.map((tab) => (
        <button type="button" role="tab" aria-selected={tab.id === props.value} class={tab.id === props.value ? 'active' : ''} onClick={() => props.onChange(tab.id)}>
          {tab.label}
        </button>
      ))}
    </nav>
  )
}
