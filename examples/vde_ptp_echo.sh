#!/usr/bin/env bash
# Runs tcp_echo_server and tcp_echo_client on two user-level VDE stacks (vdestacks)
# joined by one VDE ptp:// link, printing each command and what it prints. The
# addresses exist only inside the two stacks: the script also shows that no host
# interface has them.
#
#   examples/vde_ptp_echo.sh BIN_DIR [NET]
#
# BIN_DIR holds the built examples; NET is the /64 the two stacks share (default
# "fc00::": the server is NET1, the client NET2). Exit status: 0 when the echo came
# back, 77 (ctest's "skipped") when this machine cannot make vdestacks, 1 otherwise.
# Each run has its own temporary directory for the ptp socket, and the port is private
# to the two stacks, so runs in parallel do not meet.
set -euo pipefail

if (($# < 1 || $# > 2)); then
  echo "usage: $0 BIN_DIR [NET]" >&2
  exit 2
fi
bin=$1
net=${2:-fc00::}
server_ip=${net}1
client_ip=${net}2
port=12345  # inside the private stacks: no other program can hold it
message="hello over a VDE ptp:// link"

# What a vdestack needs here: root (repy6 plugs the VDE interface into the stack's
# namespace itself), the tap device, and user + network namespaces.
skip_reason() {
  if ((EUID != 0)); then
    echo "vdestacks need root here"
  elif ! (: <>/dev/net/tun) 2>/dev/null; then
    echo "/dev/net/tun cannot be opened"
  elif ! unshare --user --net true 2>/dev/null; then
    echo "this machine does not allow user and network namespaces"
  else
    return 1
  fi
}
if reason=$(skip_reason); then
  echo "  skipped: $reason"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/repy6-ptp.XXXXXX")
link="ptp://$work/link"
pids=()  # programs started here and still to be reaped

# Stops a program started here: SIGTERM (a server leaves its loop and tears its stack
# down), then SIGKILL after 5 s. libvdestack's helper process does not notice that its
# parent was killed, so the program's own children are stopped too.
stop() {
  local pid=$1 helpers deadline=$((SECONDS + 5))
  helpers=$(pgrep -P "$pid" || true)
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for helper in $helpers; do
    deadline=$((SECONDS + 2))
    while kill -0 "$helper" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
    kill -KILL "$helper" 2>/dev/null || true
  done
}
cleanup() {
  local pid
  for pid in "${pids[@]}"; do stop "$pid"; done
  rm -rf "$work"
}
trap cleanup EXIT

# Prints a command the way one would type it.
show() {
  local word line="  \$"
  for word in "$@"; do
    if [[ $word =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then line+=" $word"; else line+=" '$word'"; fi
  done
  echo "$line"
}

fail() {
  echo "vde_ptp_echo.sh: $*" >&2
  if [[ -f $work/server.log ]]; then sed 's/^/  server | /' "$work/server.log" >&2; fi
  exit 1
}

server_cmd=("$bin/tcp_echo_server" --stack "stack=vdestack,vnl=$link,eth,ip=$server_ip/64"
  --local-ip "$server_ip" --local-port "$port" --count 1)
client_cmd=("$bin/tcp_echo_client" --stack "stack=vdestack,vnl=$link,eth,ip=$client_ip/64"
  --local-ip "$client_ip" --remote-ip "$server_ip" --remote-port "$port" --message "$message")

echo "$(show "${server_cmd[@]}") &"
: >"$work/server.log"  # there before the loop below reads it, whenever the server starts
"${server_cmd[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")
deadline=$((SECONDS + 15))
until grep -q '^listening on' "$work/server.log"; do
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited before listening"
  ((SECONDS < deadline)) || fail "the server did not listen within 15 s"
  sleep 0.05
done
sed 's/^/  server | /' "$work/server.log"

# The server's stack has the address now; the host must not.
echo "  \$ ip -6 addr show to $server_ip/128   # on the host"
host_view=$(ip -6 addr show to "$server_ip/128")
if [[ -n $host_view ]]; then
  printf '%s\n' "$host_view" | sed 's/^/  host   | /'
  fail "the host has $server_ip: the stacks were meant to be private"
fi
echo "  host   | (nothing: $server_ip lives only in the server's vdestack)"

show "${client_cmd[@]}"
"${client_cmd[@]}" >"$work/client.log" 2>&1 &
client_pid=$!
pids+=("$client_pid")
# The client gives up by itself after --timeout (5 s) to connect and 5 s for the echo.
deadline=$((SECONDS + 30))
while kill -0 "$client_pid" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "the client did not finish within 30 s"
  sleep 0.05
done
status=0
wait "$client_pid" || status=$?
pids=("$server_pid")
sed 's/^/  client | /' "$work/client.log"
((status == 0)) || fail "the client failed (status $status)"
grep -qxF "echo: $message" "$work/client.log" || fail "the client printed no echo"

# With --count 1 the server ends by itself after its client.
deadline=$((SECONDS + 15))
while kill -0 "$server_pid" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "the server did not exit within 15 s of its client"
  sleep 0.05
done
status=0
wait "$server_pid" || status=$?
pids=()
echo "  (server output after startup)"
sed -n '/^listening on/,$p' "$work/server.log" | tail -n +2 | sed 's/^/  server | /'
((status == 0)) || fail "the server failed (status $status)"
grep -q '^served 1 client' "$work/server.log" || fail "the server did not serve its client"
