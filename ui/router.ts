import { useEffect, useState } from 'preact/hooks'

/** The console's routes live in the URL fragment (`/_/#/collections/posts`), as PocketBase's do. */
export function currentRoute(): string[] {
  const hash = location.hash.replace(/^#\/?/, '')
  const path = hash.split('?')[0] ?? ''
  return path.split('/').filter(Boolean).map((p) => decodeURIComponent(p))
}

/** The route's query (`#/logs?filter=...`). */
export function routeQuery(): URLSearchParams {
  const i = location.hash.indexOf('?')
  return new URLSearchParams(i >= 0 ? location.hash.slice(i + 1) : '')
}

export function navigate(path: string): void {
  location.hash = '#' + (path.startsWith('/') ? path : '/' + path)
}

/** Re-renders on every change of the fragment; returns the route's segments. */
export function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute)
  useEffect(() => {
    const on = () => setRoute(currentRoute())
    window.addEventListener('hashchange', on)
    return () => window.removeEventListener('hashchange', on)
  }, [])
  return route
}
