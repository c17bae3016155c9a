/**
 * `plinth deploy systemd`: unit files for the two roles of a node, API (`plinth serve
 * --no-worker`) and worker (`plinth worker`). They run `node` on the bin itself: `npx` and npm
 * scripts do not pass SIGTERM on, so a stop would cut requests instead of draining them.
 */

export interface SystemdOptions {
  /** The release folder with `bin/plinth.js` and `node_modules` (a `current` link, so a rollout only moves the link). */
  appDir: string
  /** Where data lives (`--dir`); SQLite and local files only, a cluster keeps none. */
  dataDir: string
  /** `KEY=value` lines: PLINTH_DB, PLINTH_REDIS, secrets. Readable by root only. */
  envFile: string
  /** The system user the services run as. */
  user: string
  /** `HOST:PORT` the API listens on (`--http`). */
  http: string
  /** The node binary. */
  node: string
  /** Plinth's shutdownTimeout in ms: systemd waits a little longer before SIGKILL. */
  shutdownTimeoutMs: number
  /** The drain before a stop (shutdownDrain), longer than nginx's upstream keep-alive (2 s). */
  drainMs: number
}

export const SYSTEMD_DEFAULTS: Omit<SystemdOptions, 'shutdownTimeoutMs' | 'drainMs'> = {
  appDir: '/opt/plinth/current',
  dataDir: '/var/lib/plinth',
  envFile: '/etc/plinth/plinth.env',
  user: 'plinth',
  http: '127.0.0.1:8090',
  node: '/usr/bin/node',
}

function unit(o: SystemdOptions, role: 'api' | 'worker'): string {
  const command = role === 'api' ? `serve --no-worker --http ${o.http}` : 'worker'
  const stopSec = Math.ceil((o.drainMs + o.shutdownTimeoutMs) / 1000) + 5
  return `# Written by \`plinth deploy systemd\`.
[Unit]
Description=Plinth ${role === 'api' ? 'API node' : 'job worker'}
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${o.user}
WorkingDirectory=${o.appDir}
EnvironmentFile=${o.envFile}
Environment=NODE_ENV=production
${role === 'api' ? `# On stop: ${o.drainMs} ms not ready, connections closed after each answer, then stop (behind nginx, no failed request).
Environment=PLINTH_SHUTDOWN_DRAIN=${o.drainMs}
` : ''}# node on the bin, not npx: SIGTERM must reach Plinth so it finishes in-flight work.
ExecStart=${o.node} ${o.appDir}/bin/plinth.js ${command} --dir ${o.dataDir}
${role === 'api' ? '# `systemctl reload plinth-api`: re-read the config (SIGHUP).\nExecReload=/bin/kill -HUP $MAINPID\n' : ''}KillSignal=SIGTERM
# Plinth drains and stops within shutdownDrain + shutdownTimeout; SIGKILL only after that and a margin.
TimeoutStopSec=${stopSec}
Restart=on-failure
RestartSec=2
# Exit code 2 is a start-up mistake (bad setting, address in use, database missing): do not loop on it.
RestartPreventExitStatus=2
# Limits: one file descriptor per connection (SSE and WebSocket clients stay connected).
LimitNOFILE=65536
MemoryMax=${role === 'api' ? '2G' : '1G'}
TasksMax=512
# Hardening: the service writes only its data folder.
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=strict
ProtectHome=true
ReadWritePaths=${o.dataDir}

[Install]
WantedBy=multi-user.target
`
}

/** `{file name: content}` for both roles. */
export function systemdUnits(o: SystemdOptions): Record<string, string> {
  return { 'plinth-api.service': unit(o, 'api'), 'plinth-worker.service': unit(o, 'worker') }
}
