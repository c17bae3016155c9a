#!/bin/sh
# A process manager for hosts without systemd (and the playbook's test): runs one command in the
# background with a pid file. `start` prints "started" or "running" (so Ansible knows whether it
# changed anything); `stop` sends SIGTERM and waits for the exit (a drain included); `restart` both.
#   plinthctl.sh start|stop|restart PIDFILE LOGFILE ENVFILE -- COMMAND...
set -eu
action=$1 pidfile=$2 logfile=$3 envfile=$4
shift 4
[ "${1:-}" = "--" ] && shift

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

stop() {
  if running; then
    pid=$(cat "$pidfile")
    kill -TERM "$pid"
    # Plinth drains, then finishes in-flight work: wait for it (at most 60 s, then SIGKILL).
    i=0
    while kill -0 "$pid" 2>/dev/null; do
      i=$((i + 1))
      if [ "$i" -gt 600 ]; then kill -KILL "$pid"; break; fi
      sleep 0.1
    done
  fi
  rm -f "$pidfile"
}

start() {
  if running; then echo running; return; fi
  ( set -a; . "$envfile"; set +a; exec nohup "$@" >>"$logfile" 2>&1 </dev/null ) &
  echo $! >"$pidfile"
  echo started
}

case $action in
  start) start "$@" ;;
  stop) stop; echo stopped ;;
  restart) stop; start "$@" ;;
  *) echo "usage: $0 start|stop|restart PIDFILE LOGFILE ENVFILE -- COMMAND..." >&2; exit 2 ;;
esac
