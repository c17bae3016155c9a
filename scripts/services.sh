#!/usr/bin/env bash
# Makes sure the servers the tests use are up on their standard local ports:
#   PostgreSQL 127.0.0.1:5432  trust auth; databases `test` and `postgres`, reachable as user postgres
#   MariaDB    127.0.0.1:3306  root with an empty password over TCP; database `test`
#   Redis      127.0.0.1:6379
#   nginx      installed only: the CDN-edge tests start their own on an unused port
#   ansible-core installed only: test/deploy/ansible.test.ts runs the playbook against local folders
#   Chromium   installed only: the admin console tests (playwright-core) start it themselves
# For each: does nothing when it already answers; starts it when installed and stopped; installs it
# from Debian's packages when missing (needs root; apt-get update first, non-interactive). Then waits
# until it answers and creates what the tests need. Safe to run again; quick when all is up.
set -euo pipefail

log() { printf 'services: %s\n' "$*"; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@"
  else die "need root to run: $*"
  fi
}

apt_updated=0
apt_install() {
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

# wait_for NAME COMMAND...: polls COMMAND for up to 60 s.
wait_for() {
  local name=$1; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$name did not answer within 60 s"
}

# --- PostgreSQL -------------------------------------------------------------------------------
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
pg_q() { psql -h 127.0.0.1 -p 5432 -U postgres -w -X -Atq "$@"; }

postgres() {
  if ! command -v pg_ctlcluster >/dev/null || [[ -z $(ls /etc/postgresql 2>/dev/null) ]]; then
    apt_install postgresql postgresql-client
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  if ! pg_up; then
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for PostgreSQL pg_up
  fi
  # Trust auth for local TCP, as the tests connect as postgres without a password.
  if ! pg_q -d postgres -c 'select 1' >/dev/null 2>&1; then
    local hba=/etc/postgresql/$version/main/pg_hba.conf
    log "enabling trust auth for 127.0.0.1 in $hba"
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    wait_for 'PostgreSQL (trust auth)' pg_q -d postgres -c 'select 1'
  fi
  # Replication connections from 127.0.0.1, for the streaming replicas the tests start
  # (test/helpers/pg-replica.ts); wal_level=replica and max_wal_senders>0 are PostgreSQL's defaults.
  local hba_file
  hba_file=$(pg_q -d postgres -c 'show hba_file')
  if ! as_root grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba_file"; then
    log "allowing replication connections from 127.0.0.1 in $hba_file"
    as_root sed -i '1i host replication all 127.0.0.1/32 trust' "$hba_file"
    pg_q -d postgres -c 'select pg_reload_conf()' >/dev/null
  fi
  if [[ $(pg_q -d postgres -c 'show wal_level') == minimal || $(pg_q -d postgres -c 'show max_wal_senders') == 0 ]]; then
    log "setting wal_level=replica and max_wal_senders=10 (takes effect at the next PostgreSQL restart)"
    pg_q -d postgres -c "alter system set wal_level = 'replica'" -c 'alter system set max_wal_senders = 10'
  fi
  if [[ $(pg_q -d postgres -c "select 1 from pg_database where datname = 'test'") != 1 ]]; then
    log "creating PostgreSQL database test"
    pg_q -d postgres -c 'create database test'
  fi
  log "PostgreSQL ok (127.0.0.1:5432)"
}

# --- MariaDB ----------------------------------------------------------------------------------
my_up() { mysqladmin --connect-timeout=2 -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }
my_tcp() { mariadb --connect-timeout=2 -h 127.0.0.1 -P 3306 -u root "$@"; }

mariadb_() {
  if [[ ! -x /usr/sbin/mariadbd ]]; then
    apt_install mariadb-server mariadb-client
  fi
  # Binary log with GTIDs, so replicas can follow this server (README "Read replicas"). Written before
  # the server starts; a server already running without it picks it up at its next start (the
  # replica tests start a primary of their own, so they do not wait for that).
  local cnf=/etc/mysql/my.cnf
  if [[ -f $cnf ]] && ! grep -Eq '^[[:space:]]*log[-_]bin' "$cnf"; then
    log "enabling the binary log (server_id=1, log_bin) in $cnf"
    printf '\n[mysqld]\nserver_id = 1\nlog_bin = mysql-bin\nbinlog_format = ROW\nlog_slave_updates = 1\n' | as_root tee -a "$cnf" >/dev/null
    if my_up; then log "MariaDB is running: the binary log takes effect at its next start"; fi
  fi
  # mysqladmin ping succeeds even when the login is refused: it only asks whether the server runs.
  if ! my_up; then
    log "starting MariaDB"
    as_root install -d -o mysql -g mysql /run/mysqld
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_for MariaDB my_up
  fi
  if ! my_tcp -e 'select 1' >/dev/null 2>&1; then
    # As root over the socket (unix_socket auth), give root an empty password for TCP logins.
    log "allowing root with an empty password over TCP"
    as_root mariadb -u root -e "
      ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
      CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
      GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
      FLUSH PRIVILEGES;"
    my_tcp -e 'select 1' >/dev/null || die "MariaDB still refuses root over TCP 127.0.0.1:3306"
  fi
  my_tcp -e 'CREATE DATABASE IF NOT EXISTS test'
  log "MariaDB ok (127.0.0.1:3306)"
}

# --- Redis ------------------------------------------------------------------------------------
redis_up() { [[ $(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null) == PONG ]]; }

redis() {
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server redis-tools
  fi
  if ! redis_up; then
    log "starting Redis"
    as_root install -d /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for Redis redis_up
  fi
  log "Redis ok (127.0.0.1:6379)"
}

# --- nginx -----------------------------------------------------------------------------------
# test/helpers/nginx.ts runs its own nginx (config in a temp folder, unused port); nothing here
# starts one. Debian's package starts the system nginx on port 80 after installing it, so a
# policy-rc.d that denies service starts is in place while it installs (unless one already is).
nginx_() {
  if [[ ! -x /usr/sbin/nginx ]]; then
    local policy=/usr/sbin/policy-rc.d added=0
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
      as_root chmod +x "$policy"
      added=1
    fi
    apt_install nginx
    if [[ $added -eq 1 ]]; then as_root rm -f "$policy"; fi
  fi
  log "nginx ok ($(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //'); the tests start their own)"
}

# --- Chromium ---------------------------------------------------------------------------------
# The admin console's browser tests (test/admin/) drive Debian's Chromium through playwright-core
# (never a downloaded browser); they find it at /usr/bin/chromium.
chromium_() {
  if [[ ! -x /usr/bin/chromium ]]; then
    apt_install chromium
  fi
  log "Chromium ok ($(/usr/bin/chromium --version 2>/dev/null | head -n1))"
}

# --- Ansible ----------------------------------------------------------------------------------
# test/deploy/ansible.test.ts runs the playbook in deploy/ansible/ with Debian's ansible-core,
# against folders on this machine (ansible_connection=local); it changes nothing outside them.
ansible_() {
  if ! command -v ansible-playbook >/dev/null; then
    apt_install ansible-core
  fi
  log "Ansible ok ($(ansible-playbook --version 2>/dev/null | head -n1))"
}

postgres
mariadb_
redis
nginx_
chromium_
ansible_
