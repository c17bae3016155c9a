/**
 * `plinth deploy nginx`: the nginx config for a cluster of Plinth nodes. One place decides what a
 * node behind nginx needs, so the generated file and the tests agree:
 *
 * - an upstream with passive health checks (`max_fails`/`fail_timeout`) and keep-alive to the nodes;
 * - retries on the next node for idempotent requests only: nginx never resends a POST, PATCH or
 *   LOCK that reached a node (no `non_idempotent`), so a write is never applied twice;
 * - SSE (`/api/realtime`) unbuffered with a long read timeout, WebSocket (`/api/plinth/im`) with
 *   the upgrade headers;
 * - the client address in `X-Real-IP`, set by nginx from the TCP peer, so a client cannot choose
 *   it; the node trusts that header only from nginx (`trustProxy` + `trustedProxy.headers`);
 * - `client_max_body_size` equal to Plinth's `bodyLimit`, so nginx refuses what the node would;
 * - with the nginx CDN signer, a `secure_link` location in front of `/api/files/` that checks and
 *   caches signed URLs;
 * - TLS when given a certificate, with HTTP redirected to HTTPS.
 */
import type { PlinthConfig } from '../config/schema.ts'
import { expressionVariables } from '../config/cdn.ts'

export interface NginxNode {
  host: string
  port: number
}

export interface NginxOptions {
  nodes: NginxNode[]
  /** Where nginx listens: `PORT` or `HOST:PORT` (default 80, or 443 with TLS). */
  listen?: string
  /** `server_name` (default `_`). */
  serverName?: string
  /** PEM certificate and key paths: TLS on `listen`, and port 80 redirects to it. */
  tls?: { cert: string; key: string }
  /** How long a node stays out after a failed request (passive health check), seconds. */
  failTimeout?: number
  /** Paths for a non-root nginx (tests): pid, logs and temp folders under this prefix. */
  prefix?: string
  /** Connections per nginx worker (default 4096; the playbook sizes it from the host's memory). */
  workerConnections?: number
  /** Where signed CDN responses are cached (default /var/cache/nginx/plinth_files, or under `prefix`). */
  cacheDir?: string
  /** The cluster's settings: body limit, CDN. */
  config: Pick<PlinthConfig, 'bodyLimit' | 'cdn'>
}

/** `host:port[,host:port...]` → nodes; throws naming the bad entry. */
export function parseNodes(list: string): NginxNode[] {
  const nodes = list.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry)
    const port = m ? Number(m[2]) : 0
    if (!m || port < 1 || port > 65535) throw new Error(`--nodes: "${entry}" is not HOST:PORT`)
    return { host: m[1]!, port }
  })
  if (nodes.length === 0) throw new Error('--nodes: give at least one HOST:PORT')
  return nodes
}

/** The upstream block. */
export function upstreamBlock(nodes: NginxNode[], failTimeout = 5): string {
  const servers = nodes.map((n) => `    server ${n.host}:${n.port} max_fails=3 fail_timeout=${failTimeout}s;`)
  return `  upstream plinth_nodes {
${servers.join('\n')}
    # Idle keep-alive connections kept to the nodes (per worker): no TCP handshake per request.
    keepalive 32;
    # Closed by nginx after 2 s idle: well under a stopping node's drain (shutdownDrain, 5 s in
    # the units \`plinth deploy systemd\` writes), so the node never closes one nginx may be reusing.
    keepalive_timeout 2s;
  }`
}

const proxyCommon = `      proxy_http_version 1.1;
      proxy_set_header Host $host;
      # The TCP peer, as nginx saw it: the only client address a node trusts (trustedProxy.headers).
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;`

/** The `secure_link` location for CDN URLs, when the nginx signer is configured. */
function cdnLocation(cdn: NginxOptions['config']['cdn']): string {
  if (cdn.signer !== 'nginx' || !cdn.baseUrl) return ''
  const prefix = new URL(cdn.baseUrl).pathname.replace(/\/*$/, '/')
  // nginx needs the secret written into the expression; `$key` is Plinth's name for it.
  const names = expressionVariables(cdn.expression)
  const expression = names.includes('key') ? cdn.expression.replace(/\$(\{key\}|key\b)/g, cdn.key ?? '') : cdn.expression
  return `
    # Signed CDN URLs (cdn.signer = nginx): checked here, then cached. "" = missing or wrong md5, "0" = expired.
    location ${prefix} {
      secure_link $arg_md5,$arg_expires;
      secure_link_md5 "${expression.replace(/["\\]/g, '\\$&')}";
      if ($secure_link = "") { return 403; }
      if ($secure_link = "0") { return 403; }
${proxyCommon}
      proxy_set_header Connection "";
      proxy_pass http://plinth_nodes/api/files/;
      proxy_cache plinth_files;
      # The signature is left out of the key, so every signed URL of one file shares one entry.
      proxy_cache_key $uri;
      proxy_cache_valid 200 10m;
      add_header X-Cache-Status $upstream_cache_status always;
    }
`
}

/** The whole nginx.conf. */
export function nginxConfig(o: NginxOptions): string {
  const tls = o.tls
  const listen = o.listen ?? (tls ? '443' : '80')
  const serverName = o.serverName ?? '_'
  const p = o.prefix
  const paths = p
    ? `pid ${p}/nginx.pid;
error_log ${p}/error.log warn;
`
    : ''
  const temp = p
    ? `  client_body_temp_path ${p}/tmp/body;
  proxy_temp_path ${p}/tmp/proxy;
  fastcgi_temp_path ${p}/tmp/fastcgi;
  uwsgi_temp_path ${p}/tmp/uwsgi;
  scgi_temp_path ${p}/tmp/scgi;
`
    : ''
  const cachePath = o.cacheDir ?? `${p ?? '/var/cache/nginx'}/plinth_files`
  const bodyMb = Math.ceil(o.config.bodyLimit / (1024 * 1024))
  const redirect = tls
    ? `
  server {
    listen 80;
    server_name ${serverName};
    return 301 https://$host$request_uri;
  }
`
    : ''
  return `# Written by \`plinth deploy nginx\`. Nodes: ${o.nodes.map((n) => `${n.host}:${n.port}`).join(', ')}
${process.getuid?.() === 0 && p ? 'user root root;\n' : ''}# One worker per core; each may hold this many connections (clients and nodes both count).
worker_processes auto;
${o.workerConnections ? `worker_rlimit_nofile ${o.workerConnections * 2};\n` : ''}${paths}events {
  worker_connections ${o.workerConnections ?? 4096};
}
http {
  access_log off;
${temp}  # Plinth's bodyLimit (${o.config.bodyLimit} bytes): nginx refuses larger bodies with 413 before a node reads them.
  client_max_body_size ${bodyMb}m;
  # Client keep-alive: an app holds one connection for many requests. nginx ends it after
  # keepalive_requests answers (the last with \`Connection: close\`); a client that has already
  # written its next request then meets a reset, which some clients (load generators) count as a
  # failure. nginx's default is 1000; 10000 makes that rare and still frees per-connection memory.
  keepalive_requests 10000;
  keepalive_timeout 75s;
  proxy_cache_path ${cachePath} levels=1:2 keys_zone=plinth_files:10m max_size=1g inactive=1h use_temp_path=off;
  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' close;
  }

${upstreamBlock(o.nodes, o.failTimeout)}
${redirect}
  server {
    listen ${listen}${tls ? ' ssl' : ''};
    server_name ${serverName};
${tls ? `    ssl_certificate ${tls.cert};\n    ssl_certificate_key ${tls.key};\n    ssl_protocols TLSv1.2 TLSv1.3;\n    add_header Strict-Transport-Security "max-age=31536000" always;\n` : ''}
    # Realtime (SSE): no buffering, a read timeout longer than the server's keep-alive pings.
    location /api/realtime {
${proxyCommon}
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 1h;
      proxy_pass http://plinth_nodes;
    }

    # Instant messaging (WebSocket).
    location /api/plinth/im {
${proxyCommon}
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
      proxy_pass http://plinth_nodes;
    }
${cdnLocation(o.config.cdn)}
    location / {
${proxyCommon}
      proxy_set_header Connection "";
      # A node that refuses, resets or answers 502/503/504 is skipped for idempotent requests
      # only (no non-idempotent flag): a POST that reached a node is never sent to a second one.
      proxy_next_upstream error timeout http_502 http_503 http_504;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
      proxy_pass http://plinth_nodes;
    }
  }
}
`
}
