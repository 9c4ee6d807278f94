# Shared by the bench/*.sh scripts (sourced): checks, the raw hyper ceiling, CPU placement.
# Expects $root (the checkout) to be set.

# need_tools TOOL...: exit unless each is on PATH.
need_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
	done
}

# Ours must be built for lua5.4 and luajit.
need_builds() {
	local t
	for t in lua54 luajit; do
		[ -f "$root/build/$t/http/core.so" ] || { echo "no build/$t: run scripts/build $t" >&2; exit 1; }
	done
}

# need_original MODULE: lua5.2's default paths must load Debian's lua-http 0.4, and none of ours.
need_original() {
	local path
	path=$(cd / && lua5.2 -e "print(package.searchpath('$1', package.path))")
	case "$path" in
	/usr/share/lua/*) ;;
	*) echo "lua5.2 does not load Debian's lua-http ($1 is $path)" >&2; exit 1 ;;
	esac
	if (cd / && lua5.2 -e 'require "http.core"' 2>/dev/null); then
		echo "lua5.2's default paths reach our http.core: something of ours shadows the original" >&2
		exit 1
	fi
}

# build_hyper_hello: the raw hyper hello-world (no Lua), the ceiling; sets $hyper_bin.
build_hyper_hello() {
	local target=${HYPER_TARGET_DIR:-$HOME/.cache/bench-hyper-hello}
	echo "building bench/hyper-hello ..." >&2
	CARGO_TARGET_DIR="$target" cargo build --quiet --release \
		--manifest-path "$root/bench/hyper-hello/Cargo.toml" || exit 1
	hyper_bin="$target/release/hyper-hello"
}

# BENCH_PIN=1 (default): servers on CPU 0, load generators on CPU 1; sets the command prefixes
# $on_server and $on_client (arrays).
place_on_cpus() {
	if [ "${BENCH_PIN:-1}" = 1 ]; then
		on_server=(taskset -c 0)
		on_client=(taskset -c 1)
	else
		on_server=()
		on_client=()
	fi
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Servers a script starts go in $pids; they are stopped on any exit.
pids=()
stop_servers() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	pids=()
}

tck=$(getconf CLK_TCK)

cpu_ticks() { # pid: utime + stime of the whole process, in clock ticks
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

cpu_us_per() { # ticks_before ticks_after count decimals: CPU microseconds per unit of work
	awk -v a="$1" -v b="$2" -v n="$3" -v t="$tck" -v d="$4" \
		'BEGIN { if (n > 0) printf("%." d "f", (b - a) * 1e6 / t / n); else print "-" }'
}

ratio() { # a b: a/b as "1.23x", "-" when either is missing
	awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'
}
