#!/usr/bin/env lua
-- The smallest useful server: every request gets "Hello world!" back as text/plain (HEAD
-- requests get the headers only), and each request is logged to stdout.
--
-- Usage: lua examples/server_hello.lua [port]      (no port, or 0: the system picks one)

local http_server = require "http.server"
local http_headers = require "http.headers"

local port = tonumber(arg[1]) or 0

local function onstream(_, stream)
	local request = assert(stream:get_headers())
	local method = request:get(":method")
	print(string.format("%s %s %s HTTP/%g", os.date("!%Y-%m-%dT%H:%M:%SZ"), method,
		request:get(":path"), stream.connection.version))
	io.stdout:flush()

	local response = http_headers.new()
	response:append(":status", "200")
	response:append("content-type", "text/plain")
	if method == "HEAD" then
		assert(stream:write_headers(response, true)) -- no body: end the stream with the head
	else
		assert(stream:write_headers(response, false))
		assert(stream:write_chunk("Hello world!\n", true))
	end
end

local server = assert(http_server.listen {
	host = "127.0.0.1",
	port = port,
	onstream = onstream,
	-- report failed requests instead of stopping the server
	onerror = function(_, context, op, err)
		io.stderr:write(string.format("%s on %s failed: %s\n", op, tostring(context), tostring(err)))
	end,
})

-- Bind now, so that localname() knows the port.
assert(server:listen())
io.stderr:write(string.format("Now listening on port %d\n", select(3, server:localname())))
assert(server:loop())
