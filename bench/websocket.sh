#!/bin/bash
# WebSocket echo throughput: ours (lua5.4, luajit) against the original lua-http 0.4 (Debian's
# package, under lua5.2) running the same examples/websocket_echo_server.lua, and a raw
# tokio-tungstenite echo server (bench/ws-tools, no Lua) as the ceiling. The load client is
# bench/ws-tools' ws-load (Rust, one thread): 10 connections, each keeping WINDOW messages of
# 32 bytes in flight, every echo checked.
#   bench/websocket.sh          (build ours first: scripts/build lua54 && scripts/build luajit)
# Environment: BENCH_DURATION (seconds per load, 10), BENCH_CLIENTS (10), BENCH_SIZE (32),
#   BENCH_WINDOWS (messages in flight per connection, one load each: "1 16"),
#   BENCH_PIN (1: server on CPU 0, load client on CPU 1; 0: no pinning),
#   WS_TOOLS_TARGET_DIR (cargo target dir for bench/ws-tools).
# Everything runs on 127.0.0.1; each server is started here on a free port and stopped by its
# PID. Raw output is kept in a temp directory.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
dur=${BENCH_DURATION:-10}
clients=${BENCH_CLIENTS:-10}
size=${BENCH_SIZE:-32}
windows=${BENCH_WINDOWS:-1 16}
pin=${BENCH_PIN:-1}
tools_target=${WS_TOOLS_TARGET_DIR:-$HOME/.cache/bench-ws-tools}
echo_server="$root/examples/websocket_echo_server.lua"

. "$root/bench/common.sh"
need_tools python3 taskset cargo
need_builds
need_original http.websocket
echo "building bench/ws-tools ..." >&2
CARGO_TARGET_DIR="$tools_target" cargo build --quiet --release \
	--manifest-path "$root/bench/ws-tools/Cargo.toml" || exit 1
ws_echo="$tools_target/release/ws-echo"
ws_load="$tools_target/release/ws-load"

out=$(mktemp -d /tmp/bench-websocket.XXXXXX)
trap stop_servers EXIT
trap 'exit 130' INT TERM

place_on_cpus

# Start a server (name, command...) and wait until one echo goes through; sets $server_pid, $port.
start_server() {
	local name=$1 i
	shift
	port=$(free_port)
	"${on_server[@]}" "$@" "$port" >"$out/$name.server.log" 2>&1 &
	server_pid=$!
	pids+=("$server_pid")
	for i in $(seq 100); do
		"$ws_load" "ws://127.0.0.1:$port/" 1 0.01 8 1 >/dev/null 2>&1 && return 0
		kill -0 "$server_pid" 2>/dev/null || { echo "$name: server exited at start" >&2; return 1; }
		sleep 0.1
	done
	echo "$name: no echo from the server" >&2
	return 1
}

stop_server() {
	kill "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	local keep=() p
	for p in "${pids[@]}"; do [ "$p" = "$server_pid" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}

declare -A R # results: R[name,window] = rate, R[name,window,cpu] = CPU us/message
names=()

bench_server() { # name command...
	local name=$1 w f t0 t1 n
	shift
	names+=("$name")
	echo "== $name" >&2
	start_server "$name" "$@" || { stop_server; return; }
	# Warm-up (JIT, allocator), not measured.
	timeout 30 "${on_client[@]}" "$ws_load" "ws://127.0.0.1:$port/" "$clients" 2 "$size" 16 >/dev/null 2>&1
	for w in $windows; do
		f="$out/$name.w$w.load"
		t0=$(cpu_ticks "$server_pid")
		timeout $((dur + 30)) "${on_client[@]}" "$ws_load" "ws://127.0.0.1:$port/" "$clients" "$dur" "$size" "$w" >"$f" 2>&1
		t1=$(cpu_ticks "$server_pid" 2>/dev/null || echo "$t0")
		n=$(awk '/^messages/ { print $2 }' "$f")
		R[$name,$w]=$(awk '/^messages/ { print $6 }' "$f")
		R[$name,$w,cpu]=$(cpu_us_per "$t0" "$t1" "${n:-0}" 2)
		awk -v n="$name" -v w="$w" '/^messages/ && $8 > 0 { print n " window " w ": " $8 " client errors" }' "$f" >&2
		grep -v '^messages' "$f" | head -3 | sed "s/^/$name window $w: /" >&2
		[ -n "${R[$name,$w]}" ] || echo "$name window $w: no result (see $f)" >&2
		kill -0 "$server_pid" 2>/dev/null || { echo "$name: server died (see $out/$name.server.log)" >&2; return; }
	done
	stop_server
}

# Commands that exec the server itself (so $! is its PID). Ours: this checkout's lua/ and
# build/<target>/ first on the paths; the original: lua5.2's default paths, run from /.
lua_env=(env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_2 -u LUA_CPATH_5_2)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
bench_server ours-lua54 "${lua_env[@]}" "LUA_PATH=$root/lua/?.lua;;" "LUA_CPATH=$root/build/lua54/?.so;;" lua5.4 "$echo_server"
bench_server ours-luajit "${lua_env[@]}" "LUA_PATH=$root/lua/?.lua;;" "LUA_CPATH=$root/build/luajit/?.so;;" luajit "$echo_server"
bench_server original-lua5.2 "${lua_env[@]}" -u LUA_PATH -u LUA_CPATH -C / lua5.2 "$echo_server"
bench_server tokio-tungstenite "$ws_echo"

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load average before/after: $load0 / $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "pinning: $([ "$pin" = 1 ] && echo 'server on CPU 0, ws-load on CPU 1' || echo none); $clients connections, ${size}-byte text messages, ${dur}s per load"
	echo
	for w in $windows; do
		echo "window $w (messages in flight per connection):"
		echo
		fmt='| %-17s | %10s | %11s | %8s | %8s |\n'
		printf "$fmt" server "echoes/s" "CPU us/msg" "vs orig" "vs raw"
		printf '|%s|\n' '-------------------|------------|-------------|----------|----------'
		for n in "${names[@]}"; do
			printf "$fmt" "$n" "${R[$n,$w]:--}" "${R[$n,$w,cpu]:--}" \
				"$(ratio "${R[$n,$w]:-}" "${R[original-lua5.2,$w]:-}")" "$(ratio "${R[$n,$w]:-}" "${R[tokio-tungstenite,$w]:-}")"
		done
		echo
	done
	echo "raw output: $out"
}
