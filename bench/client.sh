#!/bin/bash
# http.request client throughput: ours (lua5.4, luajit) against the original lua-http 0.4
# (Debian's package, under lua5.2 with its default paths) and curl, all fetching from the same
# local server (bench/hyper-hello, a raw hyper hello-world).
#   bench/client.sh            (build ours first: scripts/build lua54 && scripts/build luajit)
# 1. sequential: BENCH_REQUESTS (2,000) GETs one after the other (bench/client_seq.lua; curl: one
#    process fetching the URL that many times over one kept-alive connection);
# 2. in flight: the same number of GETs by BENCH_INFLIGHT (50) cqueues workers
#    (bench/client_par.lua).
# Each figure is the best of BENCH_RUNS (3) runs. Environment: BENCH_PIN (1: server on CPU 0,
# clients on CPU 1), HYPER_TARGET_DIR (cargo target dir for hyper-hello). Everything runs on
# 127.0.0.1; the server is started here on a free port and stopped by its PID.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
n=${BENCH_REQUESTS:-2000}
c=${BENCH_INFLIGHT:-50}
runs=${BENCH_RUNS:-3}
pin=${BENCH_PIN:-1}

. "$root/bench/common.sh"
need_tools curl python3 taskset lua5.2 lua5.4 luajit
need_builds
need_original http.request
build_hyper_hello

out=$(mktemp -d /tmp/bench-client.XXXXXX)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	server_pid=
}
trap cleanup EXIT
trap 'exit 130' INT TERM

place_on_cpus

port=$(free_port)
"${on_server[@]}" "$hyper_bin" "$port" >"$out/server.log" 2>&1 &
server_pid=$!
url="http://127.0.0.1:$port/"
for _ in $(seq 100); do
	curl -s -o /dev/null --max-time 1 "$url" && break
	sleep 0.1
done
[ "$(curl -s --max-time 5 "$url")" = "Hello, world!" ] || { echo "the server does not answer" >&2; exit 1; }

lua_env=(env -u LUA_PATH_5_4 -u LUA_CPATH_5_4 -u LUA_PATH_5_2 -u LUA_CPATH_5_2 -u LUA_PATH_5_1 -u LUA_CPATH_5_1)
ours() { # target interpreter script args...: ours, with this checkout first on the paths (120 s at most)
	local t=$1
	shift
	timeout 120 "${on_client[@]}" "${lua_env[@]}" "LUA_PATH=$root/lua/?.lua;;" "LUA_CPATH=$root/build/$t/?.so;;" "$@"
}
original() { # interpreter script args...: Debian's lua-http with the default paths
	(cd / && timeout 120 "${on_client[@]}" "${lua_env[@]}" -u LUA_PATH -u LUA_CPATH "$@")
}

# curl: one process, the URL n times over one connection.
for _ in $(seq "$n"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url"; done >"$out/curl.cfg"
now() { date +%s.%N; }

# best req/s of $runs runs of a command printing "<requests> <seconds>" (or timed here: curl)
best() { # name command...
	local name=$1 i line rps bestv=0
	shift
	for i in $(seq "$runs"); do
		if [ "$1" = curl ]; then
			local t0 t1
			t0=$(now)
			timeout 120 "${on_client[@]}" "$@" >"$out/$name.$i.out" 2>&1 || { echo "$name: failed (see $out/$name.$i.out)" >&2; continue; }
			t1=$(now)
			line="$n $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
		else
			line=$("$@" 2>"$out/$name.$i.err" | tail -1)
		fi
		rps=$(awk -v l="$line" 'BEGIN { split(l, f, " "); if (f[2] > 0) printf "%.0f", f[1] / f[2]; else print 0 }')
		[ "$rps" -gt 0 ] 2>/dev/null || { echo "$name: no result (see $out/$name.$i.err)" >&2; continue; }
		[ "$rps" -gt "$bestv" ] && bestv=$rps
	done
	echo "$bestv"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "-" }'; }

seq_lua="$root/bench/client_seq.lua"
par_lua="$root/bench/client_par.lua"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "sequential ..." >&2
s_orig=$(best seq-original original lua5.2 "$seq_lua" "$url" "$n")
s_54=$(best seq-lua54 ours lua54 lua5.4 "$seq_lua" "$url" "$n")
s_jit=$(best seq-luajit ours luajit luajit "$seq_lua" "$url" "$n")
s_curl=$(best seq-curl curl -s -K "$out/curl.cfg")
echo "$c in flight ..." >&2
p_orig=$(best par-original original lua5.2 "$par_lua" "$url" "$n" "$c")
p_54=$(best par-lua54 ours lua54 lua5.4 "$par_lua" "$url" "$n" "$c")
p_jit=$(best par-luajit ours luajit luajit "$par_lua" "$url" "$n" "$c")

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load average before/after: $load0 / $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$n GETs of $url (bench/hyper-hello); best of $runs runs; pinning: $([ "$pin" = 1 ] && echo 'server on CPU 0, clients on CPU 1' || echo none)"
echo
fmt='| %-22s | %12s | %11s | %9s | %16s | %11s |\n'
printf "$fmt" client "sequential/s" "vs original" "vs curl" "$c in flight/s" "vs original"
printf '|%s|\n' '------------------------|--------------|-------------|-----------|------------------|-------------'
printf "$fmt" "ours lua5.4" "$s_54" "$(ratio "$s_54" "$s_orig")" "$(ratio "$s_54" "$s_curl")" "$p_54" "$(ratio "$p_54" "$p_orig")"
printf "$fmt" "ours luajit" "$s_jit" "$(ratio "$s_jit" "$s_orig")" "$(ratio "$s_jit" "$s_curl")" "$p_jit" "$(ratio "$p_jit" "$p_orig")"
printf "$fmt" "original lua5.2" "$s_orig" "1.00x" "$(ratio "$s_orig" "$s_curl")" "$p_orig" "1.00x"
printf "$fmt" "curl (1 connection)" "$s_curl" "$(ratio "$s_curl" "$s_orig")" "1.00x" "-" "-"
echo
echo "raw output: $out"
