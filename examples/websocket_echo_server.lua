#!/usr/bin/env lua
-- A WebSocket echo server that also serves plain HTTP: each request's handler tries
-- http.websocket.new_from_stream (which has no side effects) and, when the request is no
-- websocket upgrade, answers it over HTTP with a page that talks to the echo service.
-- Runs unchanged on the original lua-http (bench/websocket.sh uses it for both).
--
-- Usage: lua examples/websocket_echo_server.lua [port]   (no port, or 0: the system picks one)

local http_server = require "http.server"
local http_headers = require "http.headers"
local websocket = require "http.websocket"

local port = tonumber(arg[1]) or 0

local page = [[
<!DOCTYPE html>
<title>websocket echo</title>
<input id="msg" value="hello"> <button onclick="ws.send(msg.value)">send</button>
<pre id="log"></pre>
<script>
var ws = new WebSocket("ws://" + location.host + "/");
ws.onmessage = function (e) { log.textContent += "echo: " + e.data + "\n"; };
</script>
]]

local function onstream(_, stream)
	local request = assert(stream:get_headers())
	local ws = websocket.new_from_stream(stream, request)
	if ws then
		assert(ws:accept({ protocols = { "echo" } }))
		-- every message goes back with its type (text or binary) until the client closes
		for data, opcode in ws:each() do
			assert(ws:send(data, opcode))
		end
		return
	end
	local response = http_headers.new()
	response:append(":status", "200")
	response:append("content-type", "text/html; charset=utf-8")
	assert(stream:write_headers(response, request:get(":method") == "HEAD"))
	if request:get(":method") ~= "HEAD" then
		assert(stream:write_chunk(page, true))
	end
end

local server = assert(http_server.listen {
	host = "127.0.0.1",
	port = port,
	onstream = onstream,
	onerror = function(_, context, op, err)
		io.stderr:write(string.format("%s on %s failed: %s\n", op, tostring(context), tostring(err)))
	end,
})
assert(server:listen())
io.stderr:write(string.format("Now listening on port %d\n", select(3, server:localname())))
io.stderr:flush()
assert(server:loop())
