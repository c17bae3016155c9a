import { ZH } from './i18n-zh.ts'

/**
 * English and Simplified Chinese, picked from the browser's languages. Texts are written in
 * English in the code; `t('Sign in')` looks the Chinese up by that text (test/admin/i18n.test.ts
 * checks that every text the console uses has a translation). `{name}` placeholders are filled from `vars`.
 */
const zh = (navigator.languages?.length ? navigator.languages : [navigator.language]).find((l) => /^(zh|en)\b/i.test(l))?.toLowerCase().startsWith('zh') ?? false

export const lang = zh ? 'zh-CN' : 'en'
document.documentElement.lang = lang

export function t(text: string, vars?: Record<string, string | number>): string {
  let out = zh ? (ZH[text] ?? text) : text
  if (vars) for (const [k, v] of Object.entries(vars)) out = out.replaceAll(`{${k}}`, String(v))
  return out
}

/** A date-time in the browser's locale (PocketBase's `2024-01-02 03:04:05.678Z` or ISO). */
export function formatDate(value: string): string {
  if (!value) return ''
  const d = new Date(value.replace(' ', 'T'))
  return Number.isNaN(d.getTime()) ? value : d.toLocaleString(lang)
}
