-- http.client: connections to our own server (HTTP/1.1, h2c, TLS with ALPN) in the same Lua
-- state (the client's waits keep the server serving), and to misbehaving python peers.
local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local support = require "spec.support"
local http_headers = require "http.headers"
local client = require "http.client"
local tls = require "http.tls"
local zlib = require "http.zlib"

local ETIMEDOUT = 110

local function request_headers(method, path, extra)
	local h = http_headers.new()
	h:append(":method", method)
	h:append(":scheme", "http")
	h:append(":authority", "127.0.0.1")
	h:append(":path", path)
	for _, kv in ipairs(extra or {}) do h:append(kv[1], kv[2]) end
	return h
end

-- A server answering "<method> <path> <body>" (and the request headers as x-got-* fields).
local function echo_server(options)
	return support.server(function(_, stream)
		local h = assert(stream:get_headers())
		local body = assert(stream:get_body_as_string())
		support.respond(stream, 200, h:get(":method") .. " " .. h:get(":path") .. " " .. body,
			{ { "x-version", tostring(stream.connection.version) }, { "x-host", h:get(":authority") or "" } })
	end, options)
end

local function exchange(conn, method, path, body, extra)
	local stream = conn:new_stream()
	assert(stream:write_headers(request_headers(method, path, extra), body == nil))
	if body then assert(stream:write_chunk(body, true)) end
	local h = assert(stream:get_headers(5))
	return h, assert(stream:get_body_as_string(5)), stream
end

-- A python peer from spec/support/client_peer.py and its port.
local function peer(mode)
	local job = support.spawn("python3 " .. support.root .. "/spec/support/client_peer.py " .. mode)
	local deadline = support.now() + 5
	while not job:out():match("%d+\n") do
		assert(support.now() < deadline, "peer did not start: " .. job:err())
		support.sleep(0.05)
	end
	return tonumber(job:out():match("(%d+)")), job
end

describe("http.client", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	for _, version in ipairs({ 1.1, 2 }) do
		it("connects and exchanges requests over one connection, version " .. version, function()
			local server = echo_server()
			local conn = assert(client.connect({ host = "127.0.0.1", port = support.port(server), version = version }, 5))
			assert.same("client", conn.type)
			assert.same(version, conn.version)
			for i = 1, 3 do
				local h, body = exchange(conn, "POST", "/n" .. i, "body" .. i)
				assert.same("200", h:get(":status"))
				assert.same("POST /n" .. i .. " body" .. i, body)
				assert.same(tostring(version), h:get("x-version"))
				assert.same("127.0.0.1", h:get("x-host"))
			end
			local family, addr, port = conn:peername()
			assert.same(2, family)
			assert.same("127.0.0.1", addr)
			assert.same(support.port(server), port)
			assert.same(2, (conn:localname()))
			assert.is_nil(conn:checktls())
			conn:close()
		end)
	end

	it("moves 10 MB each way", function()
		local big = string.rep("0123456789abcdef", 10 * 65536)
		local server = support.server(function(_, stream)
			assert(stream:get_headers())
			local body = assert(stream:get_body_as_string())
			support.respond(stream, 200, body)
		end)
		for _, version in ipairs({ 1.1, 2 }) do
			local conn = assert(client.connect({ host = "127.0.0.1", port = support.port(server), version = version }, 5))
			local _, body = exchange(conn, "PUT", "/big", big)
			assert.same(#big, #body)
			assert.is_true(body == big)
			conn:close()
		end
	end)

	it("over TLS checks the certificate, and negotiates h2 by ALPN with verification off", function()
		local server = echo_server({ tls = true })
		local port = support.port(server)
		local conn, err = client.connect({ host = "127.0.0.1", port = port, tls = true }, 5)
		assert.is_nil(conn)
		assert.truthy(err:lower():find("certificate"), err)
		local ctx = tls.new_client_context()
		ctx:setVerify(tls.VERIFY_NONE)
		conn = assert(client.connect({ host = "127.0.0.1", port = port, tls = true, ctx = ctx }, 5))
		assert.same(2, conn.version)
		assert.same("h2", conn:checktls():getAlpnSelected())
		local h, body = exchange(conn, "GET", "/tls")
		assert.same("200", h:get(":status"))
		assert.same("GET /tls ", body)
		conn = assert(client.connect({ host = "127.0.0.1", port = port, tls = true, ctx = ctx, version = 1.1 }, 5))
		assert.same(1.1, conn.version)
		assert.same("http/1.1", conn:checktls():getAlpnSelected())
	end)

	it("gives nil, message, errno for a refused connection and a timeout", function()
		local server = echo_server()
		local port = support.port(server)
		server:close()
		local conn, err, errno = client.connect({ host = "127.0.0.1", port = port }, 5)
		assert.is_nil(conn)
		assert.same(111, errno, err)
		local silent = peer("silent")
		conn = assert(client.connect({ host = "127.0.0.1", port = silent }, 5))
		local stream = conn:new_stream()
		assert(stream:write_headers(request_headers("GET", "/"), true))
		local t0 = support.now()
		local h
		h, err, errno = stream:get_headers(0.3)
		assert.is_nil(h)
		assert.same(ETIMEDOUT, errno, err)
		assert.is_true(support.now() - t0 < 2)
	end)

	it("raises for bad options", function()
		assert.has_error(function() client.connect({ port = 80 }) end)
		assert.has_error(function() client.connect({ host = "x", version = 3 }) end)
		assert.has_error(function() client.connect({ host = "x", bind = "not an address" }) end)
	end)

	it("returns a 100 Continue as its own header block", function()
		local server = support.server(function(_, stream)
			local h = assert(stream:get_headers())
			assert.same("100-continue", h:get("expect"))
			assert(stream:write_continue())
			support.respond(stream, 200, assert(stream:get_body_as_string()))
		end)
		local conn = assert(client.connect({ host = "127.0.0.1", port = support.port(server) }, 5))
		local stream = conn:new_stream()
		assert(stream:write_headers(request_headers("POST", "/", { { "expect", "100-continue" } }), false))
		assert.same("100", assert(stream:get_headers(5)):get(":status"))
		assert(stream:write_chunk("after continue", true))
		assert.same("200", assert(stream:get_headers(5)):get(":status"))
		assert.same("after continue", stream:get_body_as_string(5))
	end)

	it("decodes a gzip or deflate content-encoding after decode_content()", function()
		local text = string.rep("compressible text ", 1000)
		local plain, packed = support.tmpname(".txt"), support.tmpname(".gz")
		local f = assert(io.open(plain, "wb"))
		f:write(text)
		f:close()
		assert(support.sh("gzip -c " .. plain .. " > " .. packed))
		local gzipped = support.read(packed)
		local server = support.server(function(_, stream)
			local deflate = assert(stream:get_headers()):get(":path") == "/deflate"
			support.respond(stream, 200, deflate and zlib.deflate()(text, true) or gzipped,
				{ { "content-encoding", deflate and "deflate" or "gzip" } })
		end)
		local conn = assert(client.connect({ host = "127.0.0.1", port = support.port(server) }, 5))
		for _, path in ipairs({ "/gzip", "/deflate" }) do
			local stream = conn:new_stream()
			stream:decode_content()
			assert(stream:write_headers(request_headers("GET", path), true))
			local h = assert(stream:get_headers(5))
			assert.is_nil(h:get("content-encoding"))
			assert.same(text, stream:get_body_as_string(5))
		end
		local h, raw = exchange(conn, "GET", "/deflate")
		assert.same("deflate", h:get("content-encoding"))
		assert.same(text, zlib.inflate()(raw, true))
	end)

	it("hands over an upgraded connection: take_socket on both sides, then HTTP over it", function()
		local server
		server = support.server(function(_, stream)
			local h = assert(stream:get_headers())
			if h:get("upgrade") then
				support.respond(stream, 101, nil, { { "connection", "upgrade" }, { "upgrade", "again" } })
				assert(server:add_socket(assert(stream.connection:take_socket())))
			else
				support.respond(stream, 200, "inner " .. h:get(":path"))
			end
		end)
		local conn = assert(client.connect({ host = "127.0.0.1", port = support.port(server) }, 5))
		local stream = conn:new_stream()
		assert(stream:write_headers(request_headers("GET", "/", { { "connection", "upgrade" }, { "upgrade", "again" } }), true))
		assert.same("101", assert(stream:get_headers(5)):get(":status"))
		local sock = assert(conn:take_socket())
		local inner = assert(client.negotiate(sock, { version = 1.1 }, 5))
		local _, body = exchange(inner, "GET", "/through")
		assert.same("inner /through", body)
		assert.is_nil(select(1, client.negotiate(sock, {}, 1)))
	end)

	describe("pooled", function()
		it("reuses a kept-alive connection for later streams", function()
			local server = echo_server()
			local options = { host = "127.0.0.1", port = support.port(server) }
			local ids = {}
			for i = 1, 3 do
				local stream = assert(client.pooled(options, 5))
				assert(stream:write_headers(request_headers("GET", "/p" .. i), true))
				assert.same("200", assert(stream:get_headers(5)):get(":status"))
				assert.same("GET /p" .. i .. " ", stream:get_body_as_string(5))
				ids[i] = stream.connection._ud:id()
			end
			assert.same(ids[1], ids[2])
			assert.same(ids[1], ids[3])
			-- a stream whose response is still being read does not share its connection
			local a = assert(client.pooled(options, 5))
			assert(a:write_headers(request_headers("GET", "/a"), true))
			local b = assert(client.pooled(options, 5))
			assert(b:write_headers(request_headers("GET", "/b"), true))
			assert.are_not.equal(a.connection._ud:id(), b.connection._ud:id())
			assert.same("GET /b ", b:get_body_as_string(5))
			assert.same("GET /a ", a:get_body_as_string(5))
		end)

		it("shares an HTTP/2 connection between concurrent streams", function()
			local server = echo_server()
			local options = { host = "127.0.0.1", port = support.port(server), version = 2 }
			local a = assert(client.pooled(options, 5))
			assert(a:write_headers(request_headers("GET", "/a"), true))
			local b = assert(client.pooled(options, 5))
			assert(b:write_headers(request_headers("GET", "/b"), true))
			assert.same(a.connection._ud:id(), b.connection._ud:id())
			assert.same("GET /b ", b:get_body_as_string(5))
			assert.same("GET /a ", a:get_body_as_string(5))
		end)

		it("retries an idempotent request once when the kept-alive connection was closed, never a POST", function()
			local port = peer("drop-second")
			local options = { host = "127.0.0.1", port = port }
			local function go(method)
				local stream = assert(client.pooled(options, 5))
				assert(stream:write_headers(request_headers(method, "/"), true))
				local h, err, errno = stream:get_headers(5)
				if not h then return nil, err, errno end
				return stream:get_body_as_string(5)
			end
			assert.same("request 1", go("GET"))
			assert.same("request 2", go("GET")) -- first try dropped, retried on a new connection
			local body, err = go("POST")
			assert.is_nil(body)
			assert.truthy(err)
		end)
	end)
end)
