import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import { pb } from '../api.ts'
import { t } from '../i18n.ts'

const SECTIONS = [
  { id: 'collections', label: 'Collections', icon: '▤' },
  { id: 'logs', label: 'Logs', icon: '≡' },
  { id: 'settings', label: 'Settings', icon: '⚙' },
  { id: 'system', label: 'System', icon: '◉' },
] as const

/** The signed-in frame: the section bar (a row at the top on a phone) and the page. */
export function Layout(props: { section: string; children: ComponentChildren }) {
  const [menu, setMenu] = useState(false)
  const email = pb.authStore.record?.email as string | undefined
  return (
    <div class="shell">
      <aside class={'nav' + (menu ? ' open' : '')}>
        <div class="brand">
          <a href="#/collections">Plinth</a>
          <button type="button" class="icon menu-toggle" aria-label={t('Menu')} onClick={() => setMenu(!menu)}>≡</button>
        </div>
        <nav onClick={() => setMenu(false)}>
          {SECTIONS.map((s) => (
            <a href={`#/${s.id}`} class={props.section === s.id ? 'active' : ''} data-section={s.id}>
              <span class="glyph" aria-hidden="true">{s.icon}</span> {t(s.label)}
            </a>
          ))}
        </nav>
        <div class="who">
          <span title={email}>{email}</span>
          <button type="button" class="link" onClick={() => pb.authStore.clear()}>{t('Sign out')}</button>
        </div>
      </aside>
      <main class="page">{props.children}</main>
    </div>
  )
}
