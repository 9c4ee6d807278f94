#!/bin/sh
# http.headers, ours against the original lua-http (Debian's package, pure Lua) on the same
# interpreter: new() + 10 appends + 10 get() + an each() walk, best of 3 runs.
#   bench/headers.sh [iterations]      (build first: scripts/build all)
# The original runs with the interpreter's default paths; ours with this checkout's lua/ and
# build/<target>/ first on them.
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}
bench="$root/bench/headers.lua"

ours() { # interpreter target
	"$1" -e "package.path='$root/lua/?.lua;'..package.path
		package.cpath='$root/build/$2/?.so;'..package.cpath" "$bench" "$n"
}

printf '%-8s %-9s %12s %8s\n' interp impl "iter/s" "ours/orig"
for pair in lua5.1:lua51 lua5.2:lua52 lua5.4:lua54 luajit:luajit; do
	interp=${pair%%:*}
	target=${pair#*:}
	command -v "$interp" >/dev/null || { echo "$interp: not installed"; continue; }
	orig_rate=
	if out=$("$interp" "$bench" "$n" 2>/dev/null); then
		set -- $out
		if [ "$1" = original ]; then
			orig_rate=$2
			printf '%-8s %-9s %12s\n' "$interp" original "$orig_rate"
		else
			echo "$interp: the default paths load our module, not the original" >&2
		fi
	fi
	if [ ! -f "$root/build/$target/http/core.so" ]; then
		echo "$interp: no build/$target (run scripts/build $target)"
		continue
	fi
	set -- $(ours "$interp" "$target")
	[ "$1" = ours ] || { echo "$interp: the paths did not load our module" >&2; continue; }
	ratio=
	[ -n "$orig_rate" ] && ratio=$(awk -v a="$2" -v b="$orig_rate" 'BEGIN { printf "%.2fx", a / b }')
	printf '%-8s %-9s %12s %8s\n' "$interp" ours "$2" "$ratio"
done
