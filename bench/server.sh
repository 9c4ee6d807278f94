#!/bin/bash
# http.server throughput, latency, CPU and idle memory: ours (lua5.4, luajit) against the original
# lua-http 0.4 (Debian's package, pure Lua over cqueues, under lua5.2) running the same
# bench/hello_server.lua, and a raw hyper hello-world (bench/hyper-hello, no Lua) as the ceiling.
#   bench/server.sh            (build ours first: scripts/build lua54 && scripts/build luajit)
# Environment: BENCH_DURATION (wrk seconds, 10), BENCH_IDLE (idle connections, 5000),
#   BENCH_PIN (1: server on CPU 0, load generator on CPU 1; 0: let the scheduler place them),
#   BENCH_H2_TIMEOUT (seconds h2load may take, 120), HYPER_TARGET_DIR (cargo target dir).
# Needs wrk, h2load (nghttp2-client), curl, python3. Everything runs on 127.0.0.1; each server is
# started here on a free port and stopped by its PID. Raw tool output is kept in a temp directory.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
dur=${BENCH_DURATION:-10}
idle=${BENCH_IDLE:-5000}
pin=${BENCH_PIN:-1}
h2_timeout=${BENCH_H2_TIMEOUT:-120}
hello="$root/bench/hello_server.lua"

. "$root/bench/common.sh"
need_tools wrk h2load curl python3 taskset
need_builds
need_original http.server
build_hyper_hello

ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -gt $((idle + 100)) ] || { echo "ulimit -n is too low for $idle connections" >&2; exit 1; }

out=$(mktemp -d /tmp/bench-server.XXXXXX)
trap stop_servers EXIT
trap 'exit 130' INT TERM

place_on_cpus

# Start a server (name, command...), wait until it answers, check its answers over HTTP/1.1 and
# h2c; sets $server_pid and $port.
start_server() {
	local name=$1
	shift
	port=$(free_port)
	"${on_server[@]}" "$@" "$port" >"$out/$name.server.log" 2>&1 &
	server_pid=$!
	pids+=("$server_pid")
	local i
	for i in $(seq 100); do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && break
		kill -0 "$server_pid" 2>/dev/null || { echo "$name: server exited at start" >&2; return 1; }
		sleep 0.1
	done
	local body
	body=$(curl -s --max-time 5 "http://127.0.0.1:$port/")
	[ "$body" = "Hello, world!" ] || { echo "$name: wrong HTTP/1.1 answer: $body" >&2; return 1; }
	body=$(curl -s --max-time 5 --http2-prior-knowledge "http://127.0.0.1:$port/")
	[ "$body" = "Hello, world!" ] || echo "$name: wrong h2c answer: $body" >&2
	return 0
}

stop_server() {
	kill "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	local keep=() p
	for p in "${pids[@]}"; do [ "$p" = "$server_pid" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}

alive() { # name phase: note a server that died under load
	kill -0 "$server_pid" 2>/dev/null && return 0
	echo "$1: server died during $2 (see $out/$1.server.log)" >&2
	return 1
}

# wrk: sets $rps $p99 $reqs; notes errors.
run_wrk() { # name label extra-args...
	local name=$1 label=$2 f="$out/$1.$2.wrk"
	shift 2
	timeout $((dur + 30)) "${on_client[@]}" wrk -t1 -c50 -d"${dur}s" --latency "$@" "http://127.0.0.1:$port/" >"$f" 2>&1
	rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$f")
	p99=$(awk '$1 == "99%" { print $2 }' "$f")
	reqs=$(awk '/requests in/ { print $1 }' "$f")
	grep -E 'Socket errors|Non-2xx' "$f" | sed "s/^/$name $label: /" >&2
	[ -n "$rps" ] || { echo "$name $label: wrk gave no result (see $f)" >&2; rps=-; p99=-; reqs=0; }
}

# h2load: sets $rps $reqs.
run_h2load() { # name
	local f="$out/$1.h2c.h2load"
	timeout "$h2_timeout" "${on_client[@]}" h2load -c10 -m10 -n100000 "http://127.0.0.1:$port/" >"$f" 2>&1
	rps=$(awk '/^finished in/ { printf "%.0f", $4 }' "$f")
	reqs=$(awk '/^requests:/ { print $8 }' "$f")
	awk -v n="$1" '/^requests:/ && ($10 + $12 + $14 > 0) { print n " h2c: " $0 }' "$f" >&2
	[ -n "$rps" ] || { echo "$1 h2c: h2load gave no result within ${h2_timeout}s (see $f)" >&2; rps=-; reqs=0; }
}

declare -A R # results: R[name,column]
names=()

bench_server() { # name command...
	local name=$1 t0 t1 line
	shift
	names+=("$name")
	echo "== $name" >&2
	start_server "$name" "$@" || { stop_server; return; }

	# Idle memory first, on the fresh server.
	line=$(timeout 120 "${on_client[@]}" python3 "$root/bench/idle_clients.py" "$port" "$server_pid" "$idle" 2>&1)
	echo "$name idle: $line" >&2
	R[$name,idle]=$(sed -n 's/.*kb_per_conn=\([0-9.]*\).*/\1/p' <<<"$line")
	sleep 1
	alive "$name" "idle connections" || return

	# Warm-up (JIT, allocator), not measured.
	timeout 30 "${on_client[@]}" wrk -t1 -c50 -d2s "http://127.0.0.1:$port/" >/dev/null 2>&1

	t0=$(cpu_ticks "$server_pid")
	run_wrk "$name" keepalive
	t1=$(cpu_ticks "$server_pid" 2>/dev/null || echo "$t0")
	R[$name,ka]=$rps R[$name,p99]=$p99 R[$name,ka_cpu]=$(cpu_us_per "$t0" "$t1" "$reqs" 1)
	alive "$name" keep-alive || return

	t0=$(cpu_ticks "$server_pid")
	run_wrk "$name" close -H "Connection: close"
	t1=$(cpu_ticks "$server_pid" 2>/dev/null || echo "$t0")
	R[$name,close]=$rps R[$name,close_cpu]=$(cpu_us_per "$t0" "$t1" "$reqs" 1)
	alive "$name" "Connection: close" || return
	sleep 1

	t0=$(cpu_ticks "$server_pid")
	run_h2load "$name"
	t1=$(cpu_ticks "$server_pid" 2>/dev/null || echo "$t0")
	R[$name,h2]=$rps R[$name,h2_cpu]=$(cpu_us_per "$t0" "$t1" "$reqs" 1)
	alive "$name" h2c || return
	stop_server
}

# Commands that exec the server itself (so $! is its PID). Ours: this checkout's lua/ and
# build/<target>/ first on the paths; the original: lua5.2's default paths, run from /.
lua_env=(env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_2 -u LUA_CPATH_5_2)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
bench_server ours-lua54 "${lua_env[@]}" "LUA_PATH=$root/lua/?.lua;;" "LUA_CPATH=$root/build/lua54/?.so;;" lua5.4 "$hello"
bench_server ours-luajit "${lua_env[@]}" "LUA_PATH=$root/lua/?.lua;;" "LUA_CPATH=$root/build/luajit/?.so;;" luajit "$hello"
bench_server original-lua5.2 "${lua_env[@]}" -u LUA_PATH -u LUA_CPATH -C / lua5.2 "$hello"
bench_server hyper "$hyper_bin"

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load average before/after: $load0 / $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "pinning: $([ "$pin" = 1 ] && echo 'server on CPU 0, wrk/h2load/client on CPU 1' || echo none); wrk -t1 -c50 -d${dur}s; h2load -c10 -m10 -n100000; $idle idle connections"
	echo
	fmt='| %-15s | %16s | %8s | %10s | %14s | %10s | %9s | %10s | %12s |\n'
	printf "$fmt" server "keep-alive req/s" p99 "CPU us/req" "new-conn req/s" "CPU us/req" "h2c req/s" "CPU us/req" "KB/idle conn"
	printf '|%s|\n' '-----------------|------------------|----------|------------|----------------|------------|-----------|------------|--------------'
	for n in "${names[@]}"; do
		printf "$fmt" "$n" \
			"${R[$n,ka]:--}" "${R[$n,p99]:--}" "${R[$n,ka_cpu]:--}" "${R[$n,close]:--}" "${R[$n,close_cpu]:--}" \
			"${R[$n,h2]:--}" "${R[$n,h2_cpu]:--}" "${R[$n,idle]:--}"
	done
	echo
	o=original-lua5.2
	fmt='| %-15s | %18s | %16s | %11s | %23s | %15s |\n'
	printf "$fmt" server "keep-alive vs orig" "new-conn vs orig" "h2c vs orig" "keep-alive CPU vs hyper" "idle KB vs orig"
	printf '|%s|\n' '-----------------|--------------------|------------------|-------------|---------------------------|-----------------'
	for n in "${names[@]}"; do
		printf "$fmt" "$n" \
			"$(ratio "${R[$n,ka]:-}" "${R[$o,ka]:-}")" "$(ratio "${R[$n,close]:-}" "${R[$o,close]:-}")" \
			"$(ratio "${R[$n,h2]:-}" "${R[$o,h2]:-}")" "$(ratio "${R[$n,ka_cpu]:-}" "${R[hyper,ka_cpu]:-}")" \
			"$(ratio "${R[$n,idle]:-}" "${R[$o,idle]:-}")"
	done
	echo
	echo "raw output: $out"
}
