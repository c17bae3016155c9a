/** `plinth deploy` help (kept apart so `plinth help` need not load the deploy code). */
export const deployUsage = `Usage: plinth deploy <nginx|systemd|rollout|autoscale|release|rollback|releases> [options]

  nginx    --nodes HOST:PORT,...  [--listen PORT|HOST:PORT] [--server-name NAME] [--tls CERT,KEY]
           [--cache-dir DIR] [--worker-connections N] [--out FILE] [--config FILE]
           Writes nginx.conf for the cluster (stdout without --out): upstream with passive health
           checks and keep-alive, retries for idempotent requests only, SSE and WebSocket
           locations, the client address in X-Real-IP, client_max_body_size = bodyLimit, and the
           secure_link CDN location when cdn.signer is nginx. Nodes must trust it: set
           trustProxy to nginx's address and trustedProxy.headers to ["X-Real-IP"].
  systemd  [--out DIR] [--app-dir DIR] [--data-dir DIR] [--env-file FILE] [--user USER]
           [--http HOST:PORT] [--node PATH] [--config FILE]
           Writes plinth-api.service and plinth-worker.service (node on the bin, never npx).
  rollout  --nodes HOST:PORT,... --restart CMD [--rollback CMD] [--ready-timeout MS] [--settle MS]
           Restarts the nodes one at a time: CMD, then waits for the node's /api/ready, then
           --settle (default 6000: above nginx's fail_timeout, so nginx has taken it back). CMD runs
           in sh with {host} and {port} replaced (e.g. "ssh {host} systemctl restart plinth-api").
           Each node drains itself on SIGTERM (shutdownDrain), so nginx is not touched. A node
           not ready in time (default 60000 ms) stops the rollout and rolls back the nodes
           already done with --rollback, newest first.
  autoscale --slots HOST:PORT,... --min N --max N --start CMD --stop CMD [--running HOST:PORT,...]
           [--interval MS] [--cooldown MS] [--up-cpu 0.75] [--down-cpu 0.25] [--up-lag MS]
           [--up-rps N --down-rps N]
           Starts and stops nodes in the slots (all listed in nginx's upstream) from their own
           /api/metrics (CPU share, event-loop delay p99, requests/s per node): up after two hot looks, down after
           three cold ones, never twice within --cooldown (default 30000). CMD runs in sh with
           {host} and {port}. Runs until SIGTERM or SIGINT. Nodes' metrics.allow must list this host.
  release  REF   Builds (deploy.build), tests (deploy.test) and activates (deploy.activate) commit or
                 branch REF of deploy.repo as the next numbered release under deploy.root; a
                 failed step deploys nothing. The webhook (POST /api/plinth/deploy/webhook) does
                 the same for pushes to deploy.branch.
  rollback       Points deploy.root/current at the previous release and activates it.
  releases       Lists the releases, * marks the current one.
`
