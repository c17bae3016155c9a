import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import './styles.css'
import { isSuperuser, pb } from './api.ts'
import { Toasts } from './components/ui.tsx'
import { Layout } from './components/layout.tsx'
import { AuthLinkPage } from './pages/auth-links.tsx'
import { CollectionsPage } from './pages/collections.tsx'
import { InstallPage } from './pages/install.tsx'
import { LoginPage } from './pages/login.tsx'
import { LogsPage } from './pages/logs.tsx'
import { SettingsPage } from './pages/settings.tsx'
import { SystemPage } from './pages/system.tsx'
import { useRoute } from './router.ts'

/** Re-renders when the session changes (sign-in, sign-out, refresh). */
function useSession(): boolean {
  const [su, setSu] = useState(isSuperuser)
  useEffect(() => pb.authStore.onChange(() => setSu(isSuperuser())), [])
  useEffect(() => {
    // A stored session may have expired or been revoked: check it once, drop it when refused.
    if (isSuperuser()) pb.collection('_superusers').authRefresh().catch(() => pb.authStore.clear())
    else if (pb.authStore.token) pb.authStore.clear()
  }, [])
  return su
}

function App() {
  const route = useRoute()
  const signedIn = useSession()
  const [first, second, third] = route
  // Pages anyone may open: the install link and the pages behind the e-mail links.
  if (first === 'pbinstall' && second) return <InstallPage token={second} />
  if (first === 'auth' && second && third) return <AuthLinkPage kind={second} token={route.slice(2).join('/')} />
  // Everything else is for superusers only; anyone else sees the sign-in page and nothing more.
  if (!signedIn) return <LoginPage />
  let page
  if (first === 'logs') page = <LogsPage />
  else if (first === 'settings') page = <SettingsPage />
  else if (first === 'system') page = <SystemPage />
  else page = <CollectionsPage name={first === 'collections' ? second : undefined} />
  return <Layout section={first ?? 'collections'}>{page}</Layout>
}

render(
  <>
    <App />
    <Toasts />
  </>,
  document.getElementById('app')!,
)
