#!/usr/bin/env bash
# Start-up time and idle memory of `plinth serve` on a fresh SQLite folder (BENCHMARKS.md, "Start-up").
# For each run: start the command on an empty temp folder, poll /api/health every 10 ms with curl,
# print the ms until the first 200 and the CPU time the server had used by then, then (after 2 s
# idle) its RSS. Usage:
#   scripts/startup.sh [RUNS] [-- COMMAND...]   (default: 5 runs of node bin/plinth.js serve)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
[ "${1:-}" = "--" ] && shift
cmd=("$@")
[ ${#cmd[@]} -eq 0 ] && cmd=(node bin/plinth.js serve)
port=${PORT:-18090}
for _ in $(seq "$runs"); do
  dir=$(mktemp -d)
  start=$(date +%s%N)
  "${cmd[@]}" --dir "$dir" --http "127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/health")" = 200 ]; do
    kill -0 "$pid" 2>/dev/null || { echo "exited before answering" >&2; exit 1; }
    sleep 0.01
  done
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  # The serving process: the command itself, or (npx) its node child listening on the port.
  spid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  spid=${spid:-$pid}
  # CPU time (user + system) the serving process had used by then: steadier than wall time on a
  # busy machine. Fields 14 and 15 of /proc/PID/stat, in clock ticks.
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$spid/stat")
  sleep 2
  rss=$(ps -o rss= -p "$spid" | tr -d ' ')
  echo "$ms ms, CPU $cpu ms, idle RSS $((rss / 1024)) MB"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
done
