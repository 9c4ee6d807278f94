-- The hello-world that bench/server.sh runs on each Lua server, ours and the original alike:
--   lua hello_server.lua PORT
-- Prints "listening" once the socket is bound, then serves until killed.
local http_server = require "http.server"
local http_headers = require "http.headers"

local port = assert(tonumber(arg[1]), "usage: hello_server.lua PORT")

local server = http_server.listen {
	host = "127.0.0.1",
	port = port,
	onstream = function(_, stream)
		stream:get_headers()
		local h = http_headers.new()
		h:append(":status", "200")
		h:append("content-type", "text/plain")
		stream:write_headers(h, false)
		stream:write_body_from_string("Hello, world!\n")
	end,
}
assert(server:listen())
io.stdout:write("listening\n")
io.stdout:flush()
assert(server:loop())
