#!/usr/bin/env bash
# Runs asio_echo_server and asio_echo_client over ::1 (each serves all its connections
# on one thread), then checks that both leave promptly on SIGINT, with their resource
# summaries: the client while it waits for echoes, the server while a restrictions file
# keeps it in rate waits.
#
#   examples/asio_echo_pair.sh BIN_DIR [CONNECTIONS]
#
# BIN_DIR holds the built examples; CONNECTIONS defaults to 200. Exit status 0 when
# every check passed, 1 otherwise. Ports are picked at random and retried when busy, so
# runs in parallel do not meet.
set -euo pipefail

if (($# < 1 || $# > 2)); then
  echo "usage: $0 BIN_DIR [CONNECTIONS]" >&2
  exit 2
fi
bin=$1
connections=${2:-200}
work=$(mktemp -d "${TMPDIR:-/tmp}/repy6-asio.XXXXXX")
pids=()  # programs started here and still to be reaped
failures=0

cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# check WHAT COMMAND...: runs the command, and says whether WHAT holds.
check() {
  local what=$1
  shift
  if "$@"; then
    echo "ok  : $what"
  else
    echo "FAIL: $what"
    failures=$((failures + 1))
  fi
}

# Waits up to $3 seconds until file $1 has a line matching $2; fails early when the
# program $4 has exited without writing it.
wait_for_line() {
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    if ! kill -0 "$4" 2>/dev/null; then
      grep -qE "$2" "$1" 2>/dev/null
      return
    fi
    sleep 0.05
  done
  return 1
}

# Waits up to $2 seconds for program $1 to exit, and reaps it; false if it is still
# running then.
wait_exit() {
  local deadline=$((SECONDS + $2)) pid kept=()
  while kill -0 "$1" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  kill -0 "$1" 2>/dev/null && return 1
  wait "$1" 2>/dev/null || true
  for pid in "${pids[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
  pids=("${kept[@]}")
}

# Starts asio_echo_server with the flags given on a random free port of ::1; sets
# $port, $server (its pid) and $server_log. With $policy set, the server runs under
# that restrictions text plus a connport line for its port. A busy port is traded for
# another.
start_server() {
  local attempt flags
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 12000))
    server_log="$work/server-$port.log"
    flags=("$@")
    if [[ -n ${policy:-} ]]; then
      printf '%s\nresource connport %s\n' "$policy" "$port" >"$work/policy-$port.txt"
      flags+=(--restrictions "$work/policy-$port.txt")
    fi
    "$bin/asio_echo_server" --local-ip ::1 --local-port "$port" "${flags[@]}" \
      >"$server_log" 2>&1 &
    server=$!
    pids+=("$server")
    if wait_for_line "$server_log" '^listening on' 10 "$server"; then return 0; fi
    wait_exit "$server" 5 || true
    if ! grep -qiE 'already|in use' "$server_log"; then
      cat "$server_log"
      return 1
    fi
  done
  return 1
}

# Starts asio_echo_client toward the server with the flags given; sets $client and
# $client_log.
start_client() {
  client_log="$work/client-$RANDOM.log"
  "$bin/asio_echo_client" --remote-ip ::1 --remote-port "$port" "$@" >"$client_log" 2>&1 &
  client=$!
  pids+=("$client")
}

summary_in() { grep -q '^resources charged:' "$1" && grep -q '^sockets held:' "$1"; }

echo "== $connections connections at once over ::1"
start_server --count "$connections"
status=0
client_log="$work/client.log"
"$bin/asio_echo_client" --remote-ip ::1 --remote-port "$port" --connections "$connections" \
  --timeout 20 >"$client_log" 2>&1 || status=$?
sed 's/^/  client: /' "$client_log"
check "the client exits with 0" test "$status" -eq 0
check "every connection got its echo" \
  grep -q "^$connections of $connections connection(s) echoed" "$client_log"
check "the server leaves by itself after --count $connections clients" wait_exit "$server" 10
sed 's/^/  server: /' "$server_log"
check "the server served every client" grep -q "^served $connections client(s)" "$server_log"
check "the client prints the resource summary" summary_in "$client_log"
check "the server prints the resource summary" summary_in "$server_log"

echo "== SIGINT: a client waiting for echoes leaves at once"
start_server
# Stopped, the server sends no echo; the kernel still completes the connections.
kill -STOP "$server" 2>/dev/null || true
start_client --connections 3 --timeout 60
check "the client opened its connections" \
  wait_for_line "$client_log" '^all 3 connections open' 10 "$client"
kill -INT "$client" 2>/dev/null || true
check "the client leaves within 3 s of SIGINT" wait_exit "$client" 3
check "the stopped client prints the resource summary" summary_in "$client_log"
kill -CONT "$server" 2>/dev/null || true
kill -INT "$server" 2>/dev/null || true
wait_exit "$server" 3 || true

echo "== SIGINT: a server in rate waits leaves at once"
# 100 bytes a second: a connection and a 2000-byte message put the server tens of
# seconds over its limits.
policy=$(printf 'resource loopsend 100\nresource looprecv 100\nresource insockets 1\nresource outsockets 10')
start_server
start_client --connections 2 --timeout 60 --message "$(head -c 2000 /dev/zero | tr '\0' x)"
check "the client connected to the slow server" \
  wait_for_line "$client_log" '^all 2 connections open' 10 "$client"
kill -INT "$server" 2>/dev/null || true
check "the server leaves within 3 s of SIGINT" wait_exit "$server" 3
sed 's/^/  server: /' "$server_log"
check "the stopped server says so" grep -q '^stopping' "$server_log"
check "the stopped server prints the resource summary" summary_in "$server_log"
kill -INT "$client" 2>/dev/null || true
check "the client leaves within 3 s of SIGINT" wait_exit "$client" 3

if ((failures > 0)); then
  echo "asio_echo_pair.sh: $failures check(s) failed"
  exit 1
fi
echo "asio_echo_pair.sh: all checks passed"
