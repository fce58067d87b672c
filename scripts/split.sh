#!/usr/bin/env bash
# split.sh — runs ocrpool as three processes, one role each, the way the
# roles run in production, against a shared PostgreSQL and Redis:
#
#   datapool  http://127.0.0.1:5000
#   training  http://127.0.0.1:6000
#   ocr       http://127.0.0.1:8000
#
# Needs OCRPOOL_DATABASE_URL (postgres://...) and OCRPOOL_REDIS_URL
# (redis://...); OCRPOOL_PEERS_SERVICE_KEY is the training_service API key the
# roles present to each other. Logs go to ./data/logs/<role>.log. Each role
# starts only after the one before answers /healthz (so migrations never run
# twice at once). Ctrl-C stops all three; so does any one of them exiting.
#
#   OCRPOOL_BIN   binary to run (default ./bin/ocrpool; `make split` builds it)
#   SPLIT_WAIT    seconds to wait for each /healthz (default 60)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'split: %s\n' "$*"; }
die() {
	printf 'split: error: %s\n' "$*" >&2
	exit 1
}

if [ -z "${OCRPOOL_DATABASE_URL:-}" ] || [ -z "${OCRPOOL_REDIS_URL:-}" ]; then
	die "split roles share one PostgreSQL and one Redis (the embedded SQLite and miniredis cannot be shared between processes): set both, e.g.
  export OCRPOOL_DATABASE_URL='postgres://postgres@127.0.0.1:5432/ocrpool?sslmode=disable'
  export OCRPOOL_REDIS_URL='redis://127.0.0.1:6379/0'"
fi
case "$OCRPOOL_DATABASE_URL" in
postgres://* | postgresql://*) ;;
*) die "OCRPOOL_DATABASE_URL must be a PostgreSQL URL (postgres://...)" ;;
esac
case "$OCRPOOL_REDIS_URL" in
redis://* | rediss://* | unix://*) ;;
*) die "OCRPOOL_REDIS_URL must be a Redis URL (redis://...)" ;;
esac
if [ -z "${OCRPOOL_PEERS_SERVICE_KEY:-}" ]; then
	say "warning: OCRPOOL_PEERS_SERVICE_KEY is not set: calls between roles will be refused (401) until you create a training_service API key and set it"
fi

bin=${OCRPOOL_BIN:-./bin/ocrpool}
[ -x "$bin" ] || die "$bin not found: run 'make build' (or 'make split', which builds it)"
wait_secs=${SPLIT_WAIT:-60}

ROLES=(datapool training ocr)
PORTS=(5000 6000 8000)
PIDS=()

export OCRPOOL_DATABASE_URL OCRPOOL_REDIS_URL
export OCRPOOL_PEERS_SERVICE_KEY=${OCRPOOL_PEERS_SERVICE_KEY:-}
export OCRPOOL_PEERS_DATAPOOL_URL=http://127.0.0.1:5000
export OCRPOOL_PEERS_TRAINING_URL=http://127.0.0.1:6000
export OCRPOOL_PEERS_OCR_URL=http://127.0.0.1:8000
# OCRPOOL_ROLES would lose to --roles anyway; unset it to avoid confusion.
unset OCRPOOL_ROLES OCRPOOL_SERVER_ADDR

logdir=./data/logs
mkdir -p "$logdir"

# port_open PORT: true when something accepts connections on 127.0.0.1:PORT.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# healthy PORT: true when GET /healthz on 127.0.0.1:PORT answers 200.
healthy() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/healthz" 2>/dev/null
	else
		local status
		status=$(
			exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
			printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$1" >&3
			head -n 1 <&3
		) 2>/dev/null || return 1
		case "$status" in "HTTP/1."?" 200"*) return 0 ;; esac
		return 1
	fi
}

alive() { kill -0 "$1" 2>/dev/null; }

stopping=0
stop_all() {
	[ "$stopping" -eq 0 ] || return 0
	stopping=1
	trap - INT TERM
	local pid i
	[ "${#PIDS[@]}" -gt 0 ] || return 0
	say "stopping ${#PIDS[@]} process(es)"
	# Reverse order: ocr, training, datapool.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[$i]}
		if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
	done
	for _ in $(seq 1 40); do
		local any=0
		for pid in "${PIDS[@]}"; do
			if alive "$pid"; then any=1; fi
		done
		[ "$any" -eq 1 ] || break
		sleep 0.5
	done
	for pid in "${PIDS[@]}"; do
		if alive "$pid"; then
			say "process $pid did not stop in 20 s: killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	wait 2>/dev/null || true
	say "stopped"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for i in "${!ROLES[@]}"; do
	role=${ROLES[$i]}
	port=${PORTS[$i]}
	log=$logdir/$role.log
	if port_open "$port"; then
		die "127.0.0.1:$port is already in use: stop whatever listens there first"
	fi
	say "starting $role on 127.0.0.1:$port (log $log)"
	OCRPOOL_SERVER_ADDR=127.0.0.1:$port "$bin" serve --roles="$role" --migrate >"$log" 2>&1 &
	pid=$!
	PIDS+=("$pid")

	deadline=$((SECONDS + wait_secs))
	until healthy "$port"; do
		if ! alive "$pid"; then
			printf 'split: error: %s exited during start; last lines of %s:\n' "$role" "$log" >&2
			tail -n 20 "$log" >&2 || true
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			printf 'split: error: %s did not answer http://127.0.0.1:%s/healthz within %ss; last lines of %s:\n' \
				"$role" "$port" "$wait_secs" "$log" >&2
			tail -n 20 "$log" >&2 || true
			exit 1
		fi
		sleep 0.5
	done
	say "$role is healthy (pid $pid)"
done

say "all three roles are up: datapool http://127.0.0.1:5000, training http://127.0.0.1:6000, ocr http://127.0.0.1:8000 (Ctrl-C stops them)"

# Run until Ctrl-C or until any role exits; then stop the others.
while :; do
	for i in "${!PIDS[@]}"; do
		if ! alive "${PIDS[$i]}"; then
			rc=0
			wait "${PIDS[$i]}" || rc=$?
			printf 'split: error: %s exited (status %s); last lines of %s/%s.log:\n' \
				"${ROLES[$i]}" "$rc" "$logdir" "${ROLES[$i]}" >&2
			tail -n 20 "$logdir/${ROLES[$i]}.log" >&2 || true
			exit 1
		fi
	done
	sleep 1
done
