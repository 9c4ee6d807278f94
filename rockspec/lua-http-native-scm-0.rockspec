package = "lua-http-native"
version = "scm-0"
source = {
	url = "git+file://.",
}
description = {
	summary = "lua-http's API (HTTP/1, HTTP/2, WebSockets) on a native Rust core",
	detailed = [[
A drop-in for lua-http: `require "http.server"`, `"http.request"`, `"http.headers"` ... load
modules with lua-http's API whose I/O, TLS and protocol work runs in Rust (tokio, hyper, h2,
rustls). No OpenSSL or cqueues needed; cqueues programs keep working.]],
	license = "MIT",
}
dependencies = {
	"lua >= 5.1, < 5.5",
}
-- Built by cargo (offline-friendly: no rock server needed); the interpreter names its target.
build = {
	type = "command",
	build_command = [[
		t=$("$(LUA)" -e 'print(jit and "luajit" or "lua" .. _VERSION:gsub("%D", ""))') &&
		scripts/build "$t" && ln -sfn "$t" build/rock
	]],
	install_command = [[
		mkdir -p "$(LUADIR)/http/compat" "$(LIBDIR)/http" &&
		cp lua/http/*.lua "$(LUADIR)/http/" &&
		{ [ ! -d lua/http/compat ] || cp lua/http/compat/*.lua "$(LUADIR)/http/compat/"; } &&
		cp build/rock/http/core.so "$(LIBDIR)/http/core.so"
	]],
}
