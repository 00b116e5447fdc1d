#!/usr/bin/env bash
# Builds the examples (release preset) and runs them over ::1: a TCP echo server and its
# client, then a UDP echo server and its client, then a client the restrictions stop,
# then a Repy program pair run by repy6's Python runner. Last, the TCP pair again, each
# program on its own user-level VDE stack, the two joined by a VDE ptp:// link (skipped,
# with the reason, where vdestacks cannot be made).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh
cmake --preset release
cmake --build --preset release \
  --target tcp_echo_server tcp_echo_client udp_echo_server udp_echo_client _repy6

bin=build/release/examples
work=$(mktemp -d)
server_pid=""

stop_server() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap 'stop_server; rm -rf "$work"' EXIT

# A port on ::1 that nothing uses now (tcp or udp).
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    if [[ -z $(ss -Hn --"$1" -a "sport = :$port" 2>/dev/null) ]]; then
      echo "$port"
      return
    fi
  done
  echo "demo.sh: no free $1 port found" >&2
  return 1
}

# start_server tcp|udp COMMAND...: runs COMMAND, with PORT in its arguments replaced by
# a free port (or, when the array `ports` is set, by each of those in turn), and waits
# (at most 10 s) for its "listening on" line; sets server_pid and port.
start_server() {
  local proto=$1 attempt deadline
  shift
  local candidates=("${ports[@]:-}")
  for attempt in 1 2 3 4 5; do
    port=${candidates[attempt - 1]:-}
    [[ -n $port ]] || port=$(free_port "$proto")
    : >"$work/server.log"  # there before the loop below reads it
    "${@//PORT/$port}" >"$work/server.log" 2>&1 &
    server_pid=$!
    deadline=$((SECONDS + 10))
    while ((SECONDS < deadline)); do
      if grep -q '^listening on' "$work/server.log"; then
        sed 's/^/  server | /' "$work/server.log"
        return 0
      fi
      if ! kill -0 "$server_pid" 2>/dev/null; then
        break  # it exited: most likely someone took the port first; try another
      fi
      sleep 0.05
    done
    stop_server
    echo "demo.sh: $1 did not start on port $port (attempt $attempt):" >&2
    sed 's/^/  server | /' "$work/server.log" >&2
  done
  return 1
}

# finish_server: the server exits by itself after its one client; show what it printed.
finish_server() {
  local status=0
  wait "$server_pid" || status=$?
  server_pid=""
  echo "  (server output after startup)"
  tail -n +2 "$work/server.log" | sed 's/^/  server | /'
  return "$status"
}

echo
echo "== TCP: tcp_echo_server and tcp_echo_client on ::1"
start_server tcp "$bin/tcp_echo_server" --local-ip ::1 --local-port PORT --count 1
"$bin/tcp_echo_client" --remote-ip ::1 --remote-port "$port" \
  --message "hello over TCP from the repy6 demo" | sed 's/^/  client | /'
finish_server

echo
echo "== UDP: udp_echo_server and udp_echo_client on ::1"
start_server udp "$bin/udp_echo_server" --local-ip ::1 --local-port PORT --count 1
"$bin/udp_echo_client" --remote-ip ::1 --remote-port "$port" \
  --message "hello over UDP from the repy6 demo" | sed 's/^/  client | /'
finish_server

echo
echo "== Restrictions: tests/data/twoports.txt allows UDP ports 12345 and 12346 only,"
echo "   so sending from port 40000 is refused before any packet leaves"
status=0
"$bin/udp_echo_client" --restrictions tests/data/twoports.txt --remote-port 12345 \
  --local-port 40000 >"$work/restricted.log" 2>&1 || status=$?
sed 's/^/  client | /' "$work/restricted.log"
if ((status == 0)); then
  echo "demo.sh: the restricted client should have been refused" >&2
  exit 1
fi

echo
echo "== Repy: examples/repy/tcp_echo_server.r2py and tcp_echo_client.r2py, Repy V2 programs"
echo "   in Repy's own dialect, run by repy6's runner under examples/repy/tcp_echo.restrictions"
# Debian's interpreter, whatever python comes first on PATH; the module from the build tree.
export PYTHONPATH=build/release/python
repy=(/usr/bin/python3 -m repy6 examples/repy/tcp_echo.restrictions)
ports=(12345 12347 12349 12351 12353)  # the restrictions allow 12345..12354
start_server tcp "${repy[@]}" examples/repy/tcp_echo_server.r2py ::1 PORT 1
unset ports
"${repy[@]}" examples/repy/tcp_echo_client.r2py ::1 "$port" ::1 "$((port + 1))" \
  hello from a Repy program | sed 's/^/  client | /'
finish_server

echo
echo "== VDE: tcp_echo_server and tcp_echo_client on two vdestacks joined by a ptp:// link;"
echo "   fc00::1 and fc00::2 exist only inside those stacks, not on any host interface"
# examples/vde_ptp_echo.sh shows each command and its output, and cleans up after itself
# (both programs and their stacks, the ptp socket and its temporary directory).
status=0
bash examples/vde_ptp_echo.sh "$bin" || status=$?
if ((status == 77)); then
  echo "  (this part was skipped; the ::1 parts above ran)"
elif ((status != 0)); then
  echo "demo.sh: the VDE part failed (status $status)" >&2
  exit 1
fi

echo
echo "demo.sh: done"
