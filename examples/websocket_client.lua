#!/usr/bin/env lua
-- Send each message given on the command line to a WebSocket server and print what comes back,
-- e.g. with examples/websocket_echo_server.lua running on port 8000:
--
--   lua examples/websocket_client.lua ws://127.0.0.1:8000/ hello "koo-eee!"

local websocket = require "http.websocket"

local uri = arg[1] or error("usage: websocket_client.lua ws://host:port/path [message ...]")

local ws = websocket.new_from_uri(uri, { "echo" })
assert(ws:connect(10))
print("connected, protocol " .. tostring(ws.protocol))
for i = 2, #arg do
	assert(ws:send(arg[i]))
	local data, opcode = assert(ws:receive(10))
	print(string.format("%s: %s", opcode, data))
end
assert(ws:close())
print("closed")
