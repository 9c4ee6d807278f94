-- http.websocket: our client against our server (ws and wss) in one Lua state, against python's
-- `websockets` (as server and as client), and against raw frames no library sends.
local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local support = require "spec.support"
local websocket = require "http.websocket"
local http_headers = require "http.headers"
local tls = require "http.tls"

local unpack = table.unpack or unpack
local EPIPE, ENOTCONN, ETIMEDOUT = 32, 107, 110
local has_websockets = support.has_python_module("websockets")

-- Our echo server. It echoes every message with its opcode; "bye" makes it close with 4000;
-- what it saw is recorded in the returned table. Requests that are no upgrade get a plain
-- HTTP answer saying why new_from_stream refused them.
local function echo_server(opts)
	opts = opts or {}
	local log = {}
	local server = support.server(function(_, stream)
		local h = assert(stream:get_headers())
		local ws, err, errno = websocket.new_from_stream(stream, h)
		if not ws then
			support.respond(stream, 200, "plain: " .. err .. " " .. errno)
			return
		end
		ws.close_timeout = 0.5
		log.cookie = h:get("cookie")
		if opts.max then ws.max_message_size = opts.max end
		log.accepted = { ws:accept({ protocols = opts.protocols, headers = opts.headers }) }
		log.protocol = ws.protocol
		while true do
			local data, op, code = ws:receive()
			if data == nil then
				log.ended = { op, code }
				log.after = { ws:receive() }
				break
			end
			if data == "bye" then
				log.closed = { ws:close(4000, "server bye") }
				break
			end
			assert(ws:send(data, op))
		end
		log.state = ws.readyState
	end, opts.server)
	return server, log
end

local function url(server, scheme, path)
	return (scheme or "ws") .. "://127.0.0.1:" .. support.port(server) .. (path or "/")
end

local function client_ctx()
	local ctx = tls.new_client_context()
	ctx:setVerify(tls.VERIFY_NONE)
	return ctx
end

local function connect(server, protocols, scheme)
	local ws = websocket.new_from_uri(url(server, scheme), protocols)
	if scheme == "wss" then ws.request.ctx = client_ctx() end
	assert(ws:connect(5))
	return ws
end

-- Start a helper that prints "port N" and return the job and the port.
local function peer(cmd)
	local job = support.spawn(cmd)
	local deadline = support.now() + 10
	while not job:out():match("port %d+") do
		assert(support.now() < deadline and not job:done(), "peer did not start: " .. job:err())
		support.sleep(0.05)
	end
	return job, tonumber(job:out():match("port (%d+)"))
end

local function python(script, ...)
	return "python3 " .. support.root .. "/spec/support/" .. script .. " " .. table.concat({ ... }, " ")
end

-- The frames a raw client got back for `case`: a list of "frame <fin> <opcode> <hex>" lines,
-- "eof", and the status line.
local function raw_case(server, case)
	local job = support.pump(server, support.spawn(python("websocket_raw.py", "client", support.port(server), case)), 10)
	local lines = {}
	for line in job:out():gmatch("[^\n]+") do lines[#lines + 1] = line end
	assert.same("status 101", lines[1], job:err())
	return lines
end

local function hex(s)
	return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- A close frame's payload as the raw helper prints it.
local function close_hex(code, reason)
	return hex(string.char(math.floor(code / 256), code % 256) .. (reason or ""))
end

describe("http.websocket", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	describe("new_from_stream", function()
		it("refuses requests that are no websocket upgrade, without side effects", function()
			local server = echo_server()
			local base = support.url(server)
			local cases = {
				{ "", "upgrade header not websocket" },
				{ "-H 'Connection: upgrade' -H 'Upgrade: h2c'", "upgrade header not websocket" },
				{ "-H 'Connection: keep-alive' -H 'Upgrade: websocket'", "connection header doesn't contain upgrade" },
				{ "-H 'Connection: upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13'", "missing sec-websocket-key" },
				{ "-H 'Connection: upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Version: 8'",
					"unsupported sec-websocket-version" },
				{ "-H 'Connection: Upgrade' -H 'Upgrade: WebSocket' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Protocol: a b'",
					"invalid sec-websocket-protocol header" },
				{ "-X POST -H 'Connection: upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Version: 13'",
					"websocket upgrade requires a GET request" },
				{ "--http1.0 -H 'Connection: upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Version: 13'",
					"upgrade headers MUST be ignored in HTTP 1.0" },
				{ "--http2-prior-knowledge -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Version: 13'",
					"websockets are only supported over HTTP/1.1" },
			}
			for _, c in ipairs(cases) do
				local out, err, rc = support.fetch(server, "-i " .. c[1] .. " " .. base)
				assert.same(0, rc, err)
				-- the handler answered over HTTP as if new_from_stream had not been tried
				assert.truthy(out:find("^HTTP/[12][.01]* 200"), out)
				assert.truthy(out:find("plain: " .. c[2] .. " 22", 1, true), c[2] .. " / " .. out)
			end
		end)

		it("accepts a real upgrade with the prototype headers and the subprotocol the server prefers", function()
			local proto = http_headers.new()
			proto:append(":status", "200")
			proto:append("x-extra", "yes")
			local server, log = echo_server({ protocols = { "chat", "superchat" }, headers = proto })
			local job = support.pump(server, support.spawn(support.curl("-i -N --max-time 1 -H 'Connection: Upgrade' -H 'Upgrade: websocket' "
				.. "-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Version: 13' "
				.. "-H 'Sec-WebSocket-Protocol: superchat, chat' " .. support.url(server))), 5)
			local out = job:out():lower()
			assert.truthy(out:find("^http/1.1 101"), out)
			-- RFC 6455's sample key and its answer
			assert.truthy(out:find("\r\nsec%-websocket%-accept: s3pplmbitxaq9kygzzhzrbk%+xoo=\r\n"), out)
			assert.truthy(out:find("\r\nupgrade: websocket\r\n", 1, true), out)
			assert.truthy(out:find("\r\nconnection: upgrade\r\n", 1, true), out)
			assert.truthy(out:find("\r\nsec%-websocket%-protocol: chat\r\n"), out)
			assert.truthy(out:find("\r\nx%-extra: yes\r\n"), out)
			assert.same({ true }, log.accepted)
			assert.same("chat", log.protocol)
			-- the prototype is not changed
			assert.same("200", proto:get(":status"))
		end)

		it("is an object with lua-http's fields", function()
			local ws = websocket.new_from_uri("ws://127.0.0.1:1/x")
			assert.same("client", ws.type)
			assert.same(0, ws.readyState)
			assert.same(3, ws.close_timeout)
			assert.same('http.websocket{type="client";readyState=0}', tostring(ws))
			assert.same("/x", ws.request.headers:get(":path"))
			assert.same("websocket", ws.request.headers:get("upgrade"))
			assert.truthy(pcall(websocket.new_from_uri, "wss://[::1]:8443/a?b=c#frag"))
			assert.same("/a?b=c", websocket.new_from_uri("wss://[::1]:8443/a?b=c#frag").request.headers:get(":path"))
			local ok, err = pcall(websocket.new_from_uri, "http://example.com/")
			assert.falsy(ok)
			assert.truthy(err:find("scheme not valid", 1, true), err)
		end)
	end)

	for _, scheme in ipairs({ "ws", "wss" }) do
		describe("our client and our server over " .. scheme, function()
			local options = scheme == "wss" and { tls = true } or nil

			it("echo text and binary, negotiate a subprotocol, close from the client", function()
				local server, log = echo_server({ protocols = { "chat" }, server = options })
				local ws = connect(server, { "other", "chat" }, scheme)
				assert.same(1, ws.readyState)
				assert.same("chat", ws.protocol)
				assert.same(true, ws:send("hello"))
				assert.same({ "hello", "text" }, { ws:receive(5) })
				assert(ws:send("\0\1\255", "binary"))
				assert.same({ "\0\1\255", "binary" }, { ws:receive(5) })
				assert(ws:send("", 2))
				assert.same({ "", "binary" }, { ws:receive(5) })
				assert.same(true, ws:close(4321, "client bye"))
				assert.same(3, ws.readyState)
				assert.truthy(support.pump_until(server, function() return log.state end))
				assert.same({ "client bye", 4321 }, log.ended)
				-- after the end was reported: EPIPE
				assert.same({ nil, "receive: Broken pipe", EPIPE }, log.after)
				assert.same({ nil, "receive: Broken pipe", EPIPE }, { ws:receive(1) })
				assert.same({ nil, "send_frame: Broken pipe", EPIPE }, { ws:send("late") })
				assert.same(true, ws:close())
			end)

			it("moves a 16 MB message each way", function()
				local server = echo_server({ server = options })
				local ws = connect(server, nil, scheme)
				local big = string.rep("0123456789abcdef", 1024 * 1024)
				assert(ws:send(big, "binary", 20))
				local got, op = ws:receive(20)
				assert.same("binary", op)
				assert.truthy(got == big, "16 MB message came back different")
				assert(ws:close())
			end)

			it("closes from the server: receive gives nil, reason, code", function()
				local server, log = echo_server({ server = options })
				local ws = connect(server, nil, scheme)
				assert(ws:send("bye"))
				assert.same({ nil, "server bye", 4000 }, { ws:receive(5) })
				assert.same(3, ws.readyState)
				assert.truthy(support.pump_until(server, function() return log.state end))
				assert.same({ true }, log.closed)
				assert.same({ nil, "receive: Broken pipe", EPIPE }, { ws:receive(1) })
			end)
		end)
	end

	describe("our client and our server", function()
		it("reports ENOTCONN before connect and accept, and closes an unconnected websocket", function()
			local ws = websocket.new_from_uri("ws://127.0.0.1:1/")
			assert.same({ nil, "receive: Transport endpoint is not connected", ENOTCONN }, { ws:receive() })
			assert.same({ nil, "send_frame: Transport endpoint is not connected", ENOTCONN }, { ws:send("x") })
			assert.same({ nil, "send_frame: Transport endpoint is not connected", ENOTCONN }, { ws:send_ping() })
			assert.same(true, ws:close())
			local ok, err, errno = websocket.new_from_uri("ws://127.0.0.1:1/"):connect(2)
			assert.is_nil(ok)
			assert.same("number", type(errno), err)
		end)

		it("raises errors for bad arguments", function()
			local server = echo_server()
			local ws = connect(server)
			for _, bad in ipairs({ "foo", 16, -1, 1.5, true }) do
				local ok, err = pcall(ws.send, ws, "x", bad)
				assert.falsy(ok)
				assert.truthy(err:find("Invalid WebSocket opcode", 1, true), err)
			end
			assert.falsy(pcall(ws.send, ws, 42))
			assert.falsy(pcall(ws.send_frame, ws, { data = "x" }))
			assert.falsy(pcall(ws.send_ping, ws, string.rep("x", 126)))
			assert.falsy(pcall(ws.close, ws, 999))
			assert.falsy(pcall(ws.close, ws, 1000, string.rep("x", 124)))
			assert(ws:close())
		end)

		it("times out a receive with ETIMEDOUT and keeps the connection usable", function()
			local server = echo_server()
			local ws = connect(server)
			local t0 = support.now()
			assert.same({ nil, "Connection timed out", ETIMEDOUT }, { ws:receive(0.2) })
			assert.truthy(support.now() - t0 < 1)
			assert(ws:send("still there"))
			assert.same("still there", ws:receive(5))
			assert(ws:close())
		end)

		it("each() iterates until the server closes", function()
			local server = echo_server()
			local ws = connect(server)
			for i = 1, 3 do assert(ws:send("m" .. i)) end
			assert(ws:send("bye"))
			local got = {}
			for data, op in ws:each() do got[#got + 1] = data .. "/" .. op end
			assert.same({ "m1/text", "m2/text", "m3/text" }, got)
			assert.same(3, ws.readyState)
		end)

		it("sends from one coroutine while another waits in receive", function()
			local server = echo_server()
			local ws = connect(server)
			local core = require "http.core"
			local got
			core.spawn(nil, nil, function() got = { ws:receive(5) } end)
			assert.is_nil(got)
			assert(ws:send("crossed"))
			assert.truthy(support.pump_until(server, function() return got end))
			assert.same({ "crossed", "text" }, got)
			assert(ws:close())
		end)

		it("sends raw frames: a fragmented message, pings and pongs", function()
			local server = echo_server()
			local ws = connect(server)
			assert(ws:send_frame({ opcode = 1, data = "frag", FIN = false }))
			assert(ws:send_ping("in between"))
			assert(ws:send_frame({ opcode = 0, data = "ment", FIN = false }))
			assert(ws:send_pong("unsolicited"))
			assert(ws:send_frame({ opcode = 0, data = "ed", FIN = true }))
			assert.same({ "fragmented", "text" }, { ws:receive(5) })
			assert(ws:close())
		end)

		it("close() from one coroutine ends another's receive with EPIPE", function()
			local server = echo_server()
			local ws = connect(server)
			local core = require "http.core"
			local got
			core.spawn(nil, nil, function() got = { ws:receive() } end)
			assert.same(true, ws:close())
			assert.truthy(support.pump_until(server, function() return got end))
			assert.same({ nil, "receive: Broken pipe", EPIPE }, got)
		end)

		it("a websocket collected without close() says going away (1001)", function()
			local server = support.server(function(_, stream)
				local ws = assert(websocket.new_from_stream(stream, assert(stream:get_headers())))
				assert(ws:accept())
			end)
			local ws = connect(server)
			support.run_for(server, 0.1)
			collectgarbage()
			collectgarbage()
			assert.same({ nil, nil, 1001 }, { ws:receive(5) })
		end)

		it("serves handlers that cqueues runs (the server example with cqueues loaded)", function()
			-- (not loaded here: servers in this process would then run their handlers under cqueues)
			if not support.sh(support.interpreter() .. " -e 'require \"cqueues\"' 2>/dev/null") then
				pending("cqueues is not installed")
				return
			end
			local cmd = string.format("LUA_PATH=%s LUA_CPATH=%s %s -e 'require \"cqueues\"' %s/examples/websocket_echo_server.lua",
				support.quote(package.path), support.quote(package.cpath), support.interpreter(), support.root)
			local job = support.spawn(cmd)
			local deadline = support.now() + 10
			while not job:err():match("port %d+") do
				assert(support.now() < deadline and not job:done(), "server did not start: " .. job:err())
				support.sleep(0.05)
			end
			local ws = websocket.new_from_uri("ws://127.0.0.1:" .. job:err():match("port (%d+)") .. "/")
			assert(ws:connect(5))
			for i = 1, 100 do assert(ws:send("c" .. i)) end
			for i = 1, 100 do assert.same("c" .. i, ws:receive(5)) end
			assert(ws:close())
		end)

		it("holds sends back when the peer does not read (a timed send gives ETIMEDOUT)", function()
			local release = false
			local server = support.server(function(_, stream)
				local ws = assert(websocket.new_from_stream(stream, assert(stream:get_headers())))
				assert(ws:accept())
				while not release do require "http.core".sleep(0.05) end
				ws:close()
			end)
			local ws = connect(server)
			local chunk = string.rep("z", 64 * 1024)
			local sent, ok, err, errno = 0, true, nil, nil
			while ok and sent < 256 * 1024 * 1024 do
				ok, err, errno = ws:send(chunk, "binary", 0.5)
				if ok then sent = sent + #chunk end
			end
			release = true
			assert.same({ nil, "Connection timed out", ETIMEDOUT }, { ok, err, errno })
			-- what is buffered is bounded: the send queue, the peer's read-ahead, the sockets
			assert.truthy(sent < 64 * 1024 * 1024, sent)
		end)

		it("close() finishes the handshake promptly while unread messages fill the read-ahead", function()
			local server = echo_server()
			local ws = connect(server)
			ws.close_timeout = 5
			for i = 1, 2000 do assert(ws:send("unread " .. i)) end
			support.run_for(server, 0.3) -- the echoes arrive and are not received
			local t0 = support.now()
			assert.same(true, ws:close())
			assert.truthy(support.now() - t0 < 2, "close waited for its timeout")
		end)

		it("pipelines 20000 messages each way", function()
			local server = echo_server()
			local ws = connect(server)
			for i = 1, 20000 do assert(ws:send("n" .. i)) end
			for i = 1, 20000 do
				local data = ws:receive(5)
				if data ~= "n" .. i then assert.same("n" .. i, data) end
			end
			assert(ws:close())
		end)

		it("refuses a message over max_message_size with close code 1009", function()
			local server, log = echo_server({ max = 1000 })
			local ws = connect(server)
			assert(ws:send(string.rep("x", 1000)))
			assert.same(1000, #ws:receive(5))
			assert(ws:send(string.rep("x", 1001)))
			local data, reason, code = ws:receive(5)
			assert.is_nil(data)
			assert.same(1009, code, reason)
			assert.truthy(support.pump_until(server, function() return log.state end))
			assert.same(1009, log.ended[2])
		end)

		it("closes when the close timeout passes without an answer", function()
			-- the raw peer never answers our close frame
			local job, port = peer(python("websocket_raw.py", "server", "echo"))
			local ws = websocket.new_from_uri("ws://127.0.0.1:" .. port .. "/")
			ws.close_timeout = 0.3
			assert(ws:connect(5))
			assert.same({ "from server", "text" }, { ws:receive(5) })
			local t0 = support.now()
			assert.same(true, ws:close(1000, "done"))
			assert.truthy(support.now() - t0 < 2)
			support.pump(nil, job, 10)
			local out = job:out()
			-- our pong for its ping, then our close frame, then the connection closed
			assert.truthy(out:find("frame 1 10 " .. hex("ping?"), 1, true), out)
			assert.truthy(out:find("frame 1 8 " .. close_hex(1000, "done") .. "\neof", 1, true), out)
		end)
	end)

	describe("the opening handshake is an http.request", function()
		it("keeps cookies the server set in its 101", function()
			local proto = http_headers.new()
			proto:append("set-cookie", "session=abc123; Path=/")
			local server, log = echo_server({ headers = proto })
			local store = require "http.cookie".new_store()
			for _ = 1, 2 do
				local ws = websocket.new_from_uri(url(server))
				ws.request.cookie_store = store
				assert(ws:connect(5))
				assert(ws:close())
			end
			assert.same("session=abc123", log.cookie)
		end)

		it("goes through an HTTP proxy's CONNECT tunnel for wss", function()
			if not support.sh("command -v tinyproxy >/dev/null") then
				pending("tinyproxy is not installed (scripts/setup installs it)")
				return
			end
			local peers = require "spec.support.request_peers"
			local port = peers.free_port()
			local conf = support.file(table.concat({ "Port " .. port, "Listen 127.0.0.1", "Timeout 30",
				"LogLevel Error", "" }, "\n"))
			support.spawn("tinyproxy -d -c " .. conf)
			peers.wait_listening(port)
			local server = echo_server({ server = { tls = true } })
			local ws = websocket.new_from_uri(url(server, "wss"))
			ws.request.proxy = "http://127.0.0.1:" .. port
			ws.request.ctx = client_ctx()
			assert(ws:connect(5))
			assert(ws:send("through the tunnel"))
			assert.same("through the tunnel", ws:receive(5))
			assert(ws:close())
		end)
	end)

	describe("python websockets", function()
		if not has_websockets then
			pending("python3 websockets is not installed (scripts/setup installs it)")
			return
		end

		it("as the server: echo, fragments, ping/pong, subprotocols, headers, close codes", function()
			local job, port = peer(python("websocket_peer.py", "server", "chat", "superchat"))
			local ws = websocket.new_from_uri("ws://127.0.0.1:" .. port .. "/path", { "superchat" })
			ws.request.headers:append("origin", "http://example.com")
			assert(ws:connect(5))
			assert.same("superchat", ws.protocol)
			assert(ws:send("protocol"))
			assert.same("superchat", ws:receive(5))
			assert(ws:send("header origin"))
			assert.same("http://example.com", ws:receive(5))
			assert(ws:send("héllo"))
			assert.same({ "héllo", "text" }, { ws:receive(5) })
			assert(ws:send("\0\255", "binary"))
			assert.same({ "\0\255", "binary" }, { ws:receive(5) })
			assert(ws:send("fragments 5 ab"))
			assert.same({ "ababababab", "text" }, { ws:receive(5) })
			-- the server pings while we are in receive: the pong goes out and it tells us so
			assert(ws:send("ping 42"))
			assert.same({ "pong 42", "text" }, { ws:receive(5) })
			local big = string.rep("\1\2\3\4", 4 * 1024 * 1024)
			assert(ws:send(big, "binary", 20))
			assert.truthy(ws:receive(20) == big)
			assert(ws:send("close 4002 had enough"))
			assert.same({ nil, "had enough", 4002 }, { ws:receive(5) })
			support.pump(nil, job, 10)
			assert.truthy(job:out():find("closed 4002 had enough", 1, true), job:out())
		end)

		it("as the server: our close code reaches it", function()
			local job, port = peer(python("websocket_peer.py", "server"))
			local ws = websocket.new_from_uri("ws://127.0.0.1:" .. port .. "/")
			assert(ws:connect(5))
			assert.same(true, ws:close(4100, "from lua"))
			support.pump(nil, job, 10)
			assert.truthy(job:out():find("closed 4100 from lua", 1, true), job:out())
		end)

		it("as the client: echo, fragments, 1 MiB, ping/pong, subprotocol, close code", function()
			local server, log = echo_server({ protocols = { "chat" } })
			local job = support.pump(server, support.spawn(python("websocket_peer.py", "client", url(server, "ws", "/x"), "chat")), 20)
			assert.same(0, job:rc(), job:err())
			assert.same("protocol chat\ntext hello\nbinary 0001ff\nfragmented fragmented\nbig True\npong ok\nclosed 4001 bye\n", job:out())
			assert.truthy(support.pump_until(server, function() return log.state end))
			assert.same({ "bye", 4001 }, log.ended)
		end)
	end)

	describe("raw frames to our server", function()
		it("echoes, reassembles fragments around a ping, and answers pings", function()
			local server = echo_server()
			assert.same({ "status 101", "frame 1 1 " .. hex("hello"), "frame 1 2 0001" },
				{ unpack(raw_case(server, "echo"), 1, 3) })
			local lines = raw_case(server, "fragments")
			assert.same("frame 1 10 " .. hex("mid"), lines[2])
			assert.same("frame 1 1 " .. hex("fragmented"), lines[3])
			lines = raw_case(server, "ping")
			assert.same("frame 1 10 " .. hex("hi"), lines[2])
			assert.same("frame 1 1 " .. hex("after ping"), lines[3])
		end)

		-- case, the close frame our server answers with (code, reason), what receive returned
		local cases = {
			{ "close", 1001, "going away", { "going away", 1001 } },
			{ "close-empty", nil, nil, { nil, 1000 } },
			{ "close-reserved-code", 1002, "Protocol violation", { "Protocol violation", 1002 } },
			{ "close-invalid-code", 1002, "Protocol violation", { "Protocol violation", 1002 } },
			{ "close-one-byte", 1002, "Invalid close frame", { "Invalid close frame", 1002 } },
			{ "close-bad-utf8", 1007, "Invalid UTF-8", { "Invalid UTF-8", 1007 } },
			{ "rsv", 1002, "Reserved bits not zero", { "Reserved bits not zero", 1002 } },
			{ "continuation", 1002, "Unexpected continuation frame", { "Unexpected continuation frame", 1002 } },
			{ "interleaved", 1002, "Continuation frame expected", { "Continuation frame expected", 1002 } },
			{ "big-ping", 1002, "Control frame too big", { "Control frame too big", 1002 } },
			{ "fragmented-ping", 1002, "Fragmented control frame", { "Fragmented control frame", 1002 } },
			{ "bad-utf8", 1007, "Invalid UTF-8", { "Invalid UTF-8", 1007 } },
			{ "bad-utf8-split", 1007, "Invalid UTF-8", { "Invalid UTF-8", 1007 } },
			{ "opcode-3", 1002, "Reserved opcode", { "Reserved opcode", 1002 } },
			{ "opcode-11", 1002, "Reserved opcode", { "Reserved opcode", 1002 } },
			{ "unmasked", 1002, "Unmasked frame from client", { "Unmasked frame from client", 1002 } },
			{ "too-big", 1009, "Message too big", { "Message too big", 1009 } },
			{ "too-big-fragments", 1009, "Message too big", { "Message too big", 1009 } },
		}
		for _, c in ipairs(cases) do
			it(c[1] .. ": close " .. tostring(c[2]), function()
				local server, log = echo_server({ max = 1500 })
				local lines = raw_case(server, c[1])
				local payload = c[2] and close_hex(c[2], c[3]) or "-"
				assert.same({ "status 101", "frame 1 8 " .. payload, "eof" }, lines)
				assert.truthy(support.pump_until(server, function() return log.state end))
				assert.same(c[4], log.ended)
				assert.same({ nil, "receive: Broken pipe", EPIPE }, log.after)
			end)
		end

		it("a connection closed without a close frame ends with 1006", function()
			local server, log = echo_server()
			assert.same({ "status 101", "eof" }, raw_case(server, "eof"))
			assert.truthy(support.pump_until(server, function() return log.state end))
			assert.same(1006, log.ended[2])
		end)
	end)

	describe("raw frames to our client", function()
		local function raw_server(case)
			local job, port = peer(python("websocket_raw.py", "server", case))
			local ws = websocket.new_from_uri("ws://127.0.0.1:" .. port .. "/")
			ws.close_timeout = 0.3
			return ws, job
		end

		it("refuses a wrong Sec-WebSocket-Accept", function()
			local ws = raw_server("bad-accept")
			local ok, err = ws:connect(5)
			assert.is_nil(ok)
			assert.truthy(err:find("sec-websocket-accept", 1, true), err)
			assert.same(0, ws.readyState)
		end)

		for _, c in ipairs({ { "masked", "Masked frame from server" }, { "rsv", "Reserved bits not zero" } }) do
			it("fails the connection on a " .. c[1] .. " frame with 1002", function()
				local ws, job = raw_server(c[1])
				assert(ws:connect(5))
				assert.same({ nil, c[2], 1002 }, { ws:receive(5) })
				support.pump(nil, job, 10)
				-- a client's close frame is masked; the helper prints it unmasked
				assert.truthy(job:out():find("frame 1 8 " .. close_hex(1002, c[2]), 1, true), job:out())
			end)
		end

		it("answers a server's close and reports it", function()
			local ws, job = raw_server("close")
			assert(ws:connect(5))
			assert.same({ nil, "server says bye", 4000 }, { ws:receive(5) })
			support.pump(nil, job, 10)
			assert.truthy(job:out():find("frame 1 8 " .. close_hex(4000, "server says bye"), 1, true), job:out())
		end)
	end)
end)
