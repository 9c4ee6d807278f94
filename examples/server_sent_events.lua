#!/usr/bin/env lua
-- Server-Sent Events: GET /event-stream is a text/event-stream that sends the time once a
-- second until the client goes away; GET / is a page that shows those events.
-- Written as lua-http programs are: the handler sleeps with cqueues.sleep, which suspends
-- only its own request (the server runs handlers under cqueues when cqueues is loaded).
--
-- Usage: lua examples/server_sent_events.lua [port]      (no port, or 0: the system picks one)

local cqueues = require "cqueues"
local http_server = require "http.server"
local http_headers = require "http.headers"

local port = tonumber(arg[1]) or 0

local page = [[
<!DOCTYPE html>
<html><head><title>Server-Sent Events</title></head>
<body><ul id="events"></ul>
<script>
var source = new EventSource("/event-stream");
source.onmessage = function(e) {
	var li = document.createElement("li");
	li.textContent = e.data;
	document.getElementById("events").appendChild(li);
};
</script></body></html>
]]

local function onstream(_, stream)
	local request = assert(stream:get_headers())
	local path = request:get(":path")
	local headers = http_headers.new()
	if path == "/" then
		headers:append(":status", "200")
		headers:append("content-type", "text/html; charset=utf-8")
		assert(stream:write_headers(headers, false))
		assert(stream:write_chunk(page, true))
	elseif path == "/event-stream" then
		headers:append(":status", "200")
		headers:append("content-type", "text/event-stream")
		headers:append("cache-control", "no-cache")
		assert(stream:write_headers(headers, false))
		local n = 0
		-- write_chunk fails once the client has gone: that ends the stream
		while true do
			n = n + 1
			local event = string.format("id: %d\ndata: %s\n\n", n, os.date("!%Y-%m-%dT%H:%M:%SZ"))
			if not stream:write_chunk(event, false) then break end
			cqueues.sleep(1)
		end
	else
		headers:append(":status", "404")
		assert(stream:write_headers(headers, true))
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
assert(server:loop())
