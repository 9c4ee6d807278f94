-- http.server through its Lua API, against real clients on 127.0.0.1: curl (HTTP/1.0, 1.1,
-- h2c), a raw socket client for pipelining and bad input, python's h2 for many streams.
-- The server runs in this process, stepped while the clients run in the background.
local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local support = require "spec.support"
local http_server = require "http.server"
local http_headers = require "http.headers"

local AF_INET, AF_UNIX = 2, 1
local EADDRINUSE = 98

-- 1 KiB blocks, numbered, so that lost or reordered data shows.
local function big_body(kib)
	local parts = {}
	for i = 1, kib do parts[i] = string.format("%07d:", i) .. string.rep(string.char(97 + i % 26), 1015) .. "\n" end
	return table.concat(parts)
end

-- Answers with the request path (`h`: the request head if already read).
local function echo_path(_, stream, h)
	h = h or assert(stream:get_headers())
	support.respond(stream, 200, h:get(":path"))
end

local function raw_job(server, ...)
	return support.spawn(support.raw(support.port(server), ...))
end

-- Send `request` on a raw connection, read until the server closes (or 3 s).
local function raw_exchange(server, request)
	local job = support.pump(server, raw_job(server, "send:" .. support.file(request), "read:3"))
	return job:out(), job:err()
end

-- The server still answers an ordinary request.
local function assert_serves(server)
	local out, err, rc = support.fetch(server, support.url(server, "/still"))
	assert.same(0, rc, err)
	assert.same("/still", out)
end

describe("http.server", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	describe("in the upstream examples' shape", function()
		it("listens on port 0, reports the port with localname, serves from loop(timeout)", function()
			local server = http_server.listen {
				host = "127.0.0.1",
				port = 0,
				onstream = echo_path,
			}
			assert.same(true, server:listen())
			local family, ip, port = server:localname()
			assert.same(AF_INET, family)
			assert.same("127.0.0.1", ip)
			assert.is_number(port)
			assert.truthy(port > 0 and port < 65536)
			if math.type then assert.same("integer", math.type(port)) end
			assert.same(port, select(3, server:localname()))
			-- idle: loop returns true once the timeout is spent
			local t0 = support.now()
			assert.same(true, server:loop(0.2))
			local spent = support.now() - t0
			assert.truthy(spent >= 0.15 and spent < 1, spent)
			local job = support.spawn(support.curl(support.url(server, "/hello")))
			local deadline = support.now() + 5
			while not job:done() and support.now() < deadline do assert(server:loop(0.05)) end
			assert.same("/hello", job:out())
			assert.same(true, server:close())
		end)

		it("listen() returns nil, message, errno when the port is taken", function()
			local first = support.server(echo_path)
			local second = http_server.listen { host = "127.0.0.1", port = support.port(first), onstream = echo_path }
			local ok, msg, errno = second:listen()
			assert.is_nil(ok)
			assert.is_string(msg)
			assert.same(EADDRINUSE, errno)
		end)

		it("rejects options without onstream, or without host/path", function()
			assert.has_error(function() http_server.listen { host = "127.0.0.1", port = 0 } end)
			assert.has_error(function() http_server.listen { onstream = echo_path } end)
		end)
	end)

	describe("connection", function()
		-- Record what the handler sees of stream.connection.
		local function recording()
			local seen = {}
			local server = support.server(function(_, stream)
				local c = stream.connection
				seen[#seen + 1] = {
					type = c.type,
					version = c.version,
					localname = { c:localname() },
					peername = { c:peername() },
					stream_localname = { stream:localname() },
					stream_peername = { stream:peername() },
					checktls = c:checktls(),
					stream_checktls = stream:checktls(),
					conn = c,
				}
				echo_path(_, stream)
			end)
			return server, seen
		end

		for _, case in ipairs({
			{ "HTTP/1.1", "--http1.1", 1.1, "^HTTP/1.1 200" },
			{ "HTTP/1.0", "--http1.0", 1.0, "^HTTP/1.0 200" },
			{ "h2c", "--http2-prior-knowledge", 2, "^HTTP/2 200" },
		}) do
			local name, flag, version, status_line = case[1], case[2], case[3], case[4]
			it("has type, version, localname, peername and checktls over " .. name, function()
				local server, seen = recording()
				local out, err, rc = support.fetch(server, flag .. " -i -w '\\n%{local_port}' " .. support.url(server, "/x"))
				assert.same(0, rc, err)
				assert.truthy(out:find(status_line), out)
				local client_port = tonumber(out:match("\n(%d+)$"))
				local c = seen[1]
				assert.same("server", c.type)
				assert.same(version, c.version)
				assert.same({ AF_INET, "127.0.0.1", support.port(server) }, c.localname)
				assert.same({ AF_INET, "127.0.0.1", client_port }, c.peername)
				assert.same(c.localname, c.stream_localname)
				assert.same(c.peername, c.stream_peername)
				assert.is_nil(c.checktls)
				assert.is_nil(c.stream_checktls)
			end)
		end

		it("is the same object for requests on one keep-alive connection", function()
			local server, seen = recording()
			local out, err, rc = support.fetch(server, "--http1.1 -w '%{num_connects}\\n' "
				.. support.url(server, "/a") .. " " .. support.url(server, "/b"))
			assert.same(0, rc, err)
			assert.same("/a1\n/b0\n", out)
			assert.same(2, #seen)
			assert.truthy(rawequal(seen[1].conn, seen[2].conn))
			assert.same(seen[1].peername, seen[2].peername)
		end)

		it("calls its onidle handler with it each time no request is left in progress", function()
			local events, old = {}, nil
			local server = support.server(function(s, stream)
				local conn = stream.connection
				old = conn:onidle(function(c) events[#events + 1] = rawequal(c, conn) and "idle" or "other" end)
				events[#events + 1] = "request"
				echo_path(s, stream)
			end)
			local out, err, rc = support.fetch(server, "--http1.1 -w '%{num_connects}\\n' "
				.. support.url(server, "/a") .. " " .. support.url(server, "/b"))
			assert.same(0, rc, err)
			assert.same("/a1\n/b0\n", out)
			assert.same({ "request", "idle", "request", "idle" }, events)
			assert.same("function", type(old)) -- the second request's onidle returned the first's
		end)
	end)

	describe("HTTP/1.x", function()
		it("answers pipelined requests in order", function()
			local server = support.server(echo_path)
			local out = raw_exchange(server, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
				.. "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
				.. "GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			local rs = support.parse_responses(out)
			assert.same(3, #rs, out)
			for i = 1, 3 do
				assert.same("200", rs[i].status)
				assert.same("/" .. i, rs[i].body)
			end
		end)

		it("reads chunked and Content-Length request bodies", function()
			local got = {}
			local server = support.server(function(_, stream)
				local h = assert(stream:get_headers())
				got[#got + 1] = {
					te = h:get("transfer-encoding"),
					cl = h:get("content-length"),
					body = stream:get_body_as_string(),
				}
				support.respond(stream, 200, "ok")
			end)
			local body = big_body(100)
			local file = support.file(body)
			local out, err = support.fetch(server, "--http1.1 -H 'Transfer-Encoding: chunked' --data-binary @"
				.. file .. " " .. support.url(server))
			assert.same("ok", out, err)
			out, err = support.fetch(server, "--http1.1 --data-binary @" .. file .. " " .. support.url(server))
			assert.same("ok", out, err)
			assert.same("chunked", got[1].te)
			assert.truthy(got[1].body == body)
			assert.same(tostring(#body), got[2].cl)
			assert.truthy(got[2].body == body)
		end)

		it("closes the connection after answering a request with Connection: close", function()
			local server = support.server(echo_path)
			local out, err = raw_exchange(server, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			local rs = support.parse_responses(out)
			assert.same(1, #rs, out)
			assert.same("/a", rs[1].body)
			assert.same("close", rs[1].headers["connection"])
			local eof = tonumber(err:match("eof ([%d.]+)"))
			assert.truthy(eof and eof < 1, err)
		end)

		it("closes the connection after a response the handler marks Connection: close", function()
			local server = support.server(function(_, stream)
				local h = assert(stream:get_headers())
				support.respond(stream, 200, h:get(":path"), { { "connection", "close" } })
			end)
			local out, err = raw_exchange(server, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
			local rs = support.parse_responses(out)
			assert.same(1, #rs, out)
			assert.same("/a", rs[1].body)
			assert.truthy(err:find("eof"), err)
		end)

		it("serves no further request on a connection a handler closed", function()
			local server = support.server(function(s, stream)
				echo_path(s, stream)
				stream.connection:close()
			end)
			local job = support.pump(server, raw_job(server, "send:" .. support.file("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"),
				"sleep:0.3", "send:" .. support.file("GET /b HTTP/1.1\r\nHost: x\r\n\r\n"), "read:3"))
			local rs = support.parse_responses(job:out())
			assert.same(1, #rs, job:out())
			assert.same("/a", rs[1].body)
			assert.truthy(job:err():find("eof"), job:err())
		end)

		it("serves 50 parallel connections", function()
			local paths = {}
			local server = support.server(function(_, stream)
				local h = assert(stream:get_headers())
				paths[#paths + 1] = h:get(":path")
				support.respond(stream, 200, h:get(":path") .. "\n")
			end)
			local urls = {}
			for i = 1, 50 do urls[i] = support.url(server, "/" .. i) end
			local out, err, rc = support.fetch(server, "--parallel --parallel-immediate --parallel-max 50 "
				.. table.concat(urls, " "), 10)
			assert.same(0, rc, err)
			local got = {}
			for line in out:gmatch("[^\n]+") do got[#got + 1] = line end
			table.sort(got)
			table.sort(paths)
			local want = {}
			for i = 1, 50 do want[i] = "/" .. i end
			table.sort(want)
			assert.same(want, got)
			assert.same(want, paths)
		end)

		it("passes header values that are not UTF-8 both ways", function()
			local value
			local server = support.server(function(_, stream)
				local h = assert(stream:get_headers())
				value = h:get("x-bytes")
				support.respond(stream, 200, "ok", { { "x-back", value } })
			end)
			local out = raw_exchange(server, "GET / HTTP/1.1\r\nHost: x\r\nX-Bytes: caf\233 \255\254\r\n"
				.. "Connection: close\r\n\r\n")
			assert.same("caf\233 \255\254", value)
			local r = support.parse_responses(out)[1]
			assert.truthy(r, out)
			assert.same("caf\233 \255\254", r.headers["x-back"])
		end)

		it("answers an HTTP/1.0 request in HTTP/1.0 and closes; connection.version is 1.0", function()
			local version
			local server = support.server(function(s, stream)
				version = stream.connection.version
				echo_path(s, stream)
			end)
			local out, err = raw_exchange(server, "GET /old HTTP/1.0\r\n\r\n")
			assert.same(1.0, version)
			local rs = support.parse_responses(out)
			assert.same(1, #rs, out)
			assert.same("1.0", rs[1].version)
			assert.same("/old", rs[1].body)
			assert.truthy(err:find("eof"), err)
		end)

		it("hands an Upgrade request's connection over with take_socket after a 101", function()
			local sock, err
			local server = support.server(function(_, stream)
				local h = assert(stream:get_headers())
				assert.same("foo", h:get("upgrade"))
				support.respond(stream, 101, nil, { { "connection", "upgrade" }, { "upgrade", "foo" } })
				sock, err = stream.connection:take_socket()
				if sock then sock:close() end
			end)
			local out, eof = raw_exchange(server, "GET /up HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n")
			assert.truthy(sock, err)
			assert.truthy(tostring(sock):find("http.socket", 1, true))
			local rs = support.parse_responses(out)
			assert.same("101", rs[1].status, out)
			assert.truthy(eof:find("eof"), eof)
		end)

		it("closes the connection after refusing to switch protocols (no request follows unchecked)", function()
			local server = support.server(echo_path)
			local out = raw_exchange(server, "GET /up HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\n"
				.. "POST /smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
			local rs = support.parse_responses(out)
			assert.same(1, #rs, out)
			assert.same("/up", rs[1].body)
		end)

		it("take_socket on a request that did not switch protocols gives nil, message", function()
			local got
			local server = support.server(function(_, stream)
				support.respond(stream, 200, "x")
				got = { stream.connection:take_socket() }
			end)
			local out, err, rc = support.fetch(server, support.url(server, "/"))
			assert.same(0, rc, err)
			assert.same("x", out)
			assert.is_nil(got[1])
			assert.truthy(got[2]:find("switch"), got[2])
		end)

		it("answers HEAD with the headers only", function()
			local method
			local server = support.server(function(_, stream)
				local h = assert(stream:get_headers())
				method = h:get(":method")
				local res = http_headers.new()
				res:append(":status", "200")
				res:append("content-length", "5")
				assert(stream:write_headers(res, method == "HEAD"))
				if method ~= "HEAD" then assert(stream:write_chunk("hello", true)) end
			end)
			local out, err, rc = support.fetch(server, "-I " .. support.url(server))
			assert.same(0, rc, err)
			assert.same("HEAD", method)
			assert.truthy(out:lower():find("content%-length: 5\r\n"), out)
			-- nothing follows the head: the next response comes right after it
			out = raw_exchange(server, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			assert.truthy(out:find("^HTTP/1.1 200[^\r]*\r\n.-\r\n\r\nHTTP/1.1 200.-\r\n\r\nhello$"), out)
		end)

		it("moves 10 MB each way without stalling", function()
			local body = big_body(10 * 1024)
			local src = support.file(body)
			local saved = support.tmpname()
			local server = support.server(function(_, stream)
				local h = assert(stream:get_headers())
				if h:get(":method") == "POST" then
					local f = assert(io.open(saved, "wb"))
					assert(stream:save_body_to_file(f))
					f:close()
					support.respond(stream, 200, "saved")
				else
					local res = http_headers.new()
					res:append(":status", "200")
					assert(stream:write_headers(res, false))
					local f = assert(io.open(src, "rb"))
					assert(stream:write_body_from_file(f))
					f:close()
				end
			end)
			local out, err = support.fetch(server, "--http1.1 --data-binary @" .. src .. " " .. support.url(server), 15)
			assert.same("saved", out, err)
			assert.truthy(support.read(saved) == body)
			local dl = support.tmpname()
			local _, err2, rc = support.fetch(server, "--http1.1 -o " .. dl .. " " .. support.url(server), 15)
			assert.same(0, rc, err2)
			assert.truthy(support.read(dl) == body)
		end)
	end)

	describe("HTTP/2 (h2c, prior knowledge)", function()
		it("serves curl", function()
			local server = support.server(echo_path)
			local out, err, rc = support.fetch(server, "--http2-prior-knowledge -i " .. support.url(server, "/two"))
			assert.same(0, rc, err)
			assert.truthy(out:find("^HTTP/2 200"), out)
			assert.truthy(out:find("\r\n\r\n/two$"), out)
		end)

		it("push_promise pushes a response to a promised request", function()
			if not support.has_python_module("h2") then pending("python h2 not installed") end
			local server = support.server(function(_, stream)
				local h = assert(stream:get_headers())
				local promise = http_headers.new()
				promise:append(":method", "GET")
				promise:append(":scheme", "http")
				promise:append(":authority", h:get(":authority"))
				promise:append(":path", "/style.css")
				local pushed = assert(stream:push_promise(promise))
				assert.same("/style.css", assert(pushed:get_headers()):get(":path"))
				support.respond(pushed, 200, "pushed body")
				support.respond(stream, 200, "main")
			end)
			local job = support.pump(server, support.spawn("python3 " .. support.root
				.. "/spec/support/h2_push_client.py " .. support.port(server) .. " /index"))
			assert.same(0, job:rc(), job:err())
			assert.same("/index 200 main\n/style.css 200 pushed body\npromise /style.css\n", job:out())
		end)

		it("push_promise without :authority raises; on HTTP/1 it returns nil and a message", function()
			local results = {}
			local server = support.server(function(_, stream)
				local promise = http_headers.new()
				promise:append(":method", "GET")
				promise:append(":scheme", "http")
				promise:append(":path", "/x")
				local ok, err = pcall(stream.push_promise, stream, promise)
				results[#results + 1] = { ok, err }
				promise:append(":authority", "127.0.0.1")
				results[#results + 1] = { stream:push_promise(promise) }
				echo_path(_, stream)
			end)
			local out, err, rc = support.fetch(server, "--http1.1 " .. support.url(server, "/one"))
			assert.same(0, rc, err)
			assert.same("/one", out)
			-- HTTP/1 refuses before looking at the headers
			assert.same(nil, results[1][2] and results[1][1])
			assert.same(nil, results[2][1])
			assert.truthy(tostring(results[2][2]):find("HTTP/2"), tostring(results[2][2]))
			results = {}
			out, err, rc = support.fetch(server, "--http2-prior-knowledge " .. support.url(server, "/two"))
			assert.same(0, rc, err)
			assert.same("/two", out)
			assert.same(false, results[1][1])
			assert.truthy(tostring(results[1][2]):find(":authority", 1, true), tostring(results[1][2]))
		end)

		it("runs 60 concurrent streams on one connection, each in its own handler", function()
			if not support.has_python_module("h2") then pending("python3 module h2 not installed (pip install h2)") end
			local active, max_active, coroutines, count = 0, 0, {}, 0
			local server = support.server(function(_, stream)
				active = active + 1
				if active > max_active then max_active = active end
				local co = coroutine.running()
				if not coroutines[co] then count = count + 1; coroutines[co] = true end
				local h = assert(stream:get_headers())
				local res = http_headers.new()
				res:append(":status", "200")
				assert(stream:write_headers(res, false))
				-- the client sends the bodies only once every stream has its response head
				local body = assert(stream:get_body_as_string())
				assert(stream:write_chunk(h:get(":path") .. ":" .. body, true))
				active = active - 1
			end)
			local job = support.pump(server, support.spawn("python3 " .. root .. "/spec/support/h2_client.py "
				.. support.port(server) .. " 60"), 10)
			local lines = {}
			for line in job:out():gmatch("[^\n]+") do lines[#lines + 1] = line end
			assert.same(60, #lines, job:out() .. job:err())
			for i = 0, 59 do
				assert.same(string.format("%d 200 /%d:body-%d", i, i, i), lines[i + 1])
			end
			assert.same(60, max_active)
			assert.same(60, count)
		end)

		it("passes request and response trailers", function()
			if not support.has_python_module("h2") then pending("python3 module h2 not installed (pip install h2)") end
			local server = support.server(function(_, stream)
				local h = assert(stream:get_headers())
				local res = http_headers.new()
				res:append(":status", "200")
				assert(stream:write_headers(res, false))
				local body = assert(stream:get_body_as_string())
				local trailers = assert(stream:get_headers())
				assert(stream:write_chunk(h:get(":path") .. ":" .. body, false))
				local t = http_headers.new()
				t:append("x-resp-trailer", trailers:get("x-req-trailer"))
				assert(stream:write_headers(t, true))
			end)
			local job = support.pump(server, support.spawn("python3 " .. root .. "/spec/support/h2_client.py "
				.. support.port(server) .. " 3 trailers"))
			assert.same("0 200 /0:body-0\n1 200 /1:body-1\n2 200 /2:body-2\n"
				.. "trailer 0 x-resp-trailer 0\ntrailer 1 x-resp-trailer 1\ntrailer 2 x-resp-trailer 2\n",
				job:out(), job:err())
		end)

		it("moves 10 MB each way, and echoes 10 MB, without stalling", function()
			local body = big_body(10 * 1024)
			local src = support.file(body)
			local server = support.server(function(_, stream)
				local h = assert(stream:get_headers())
				local path = h:get(":path")
				local res = http_headers.new()
				res:append(":status", "200")
				if path == "/upload" then
					local data = assert(stream:get_body_as_string())
					support.respond(stream, 200, data == body and "same" or ("different: " .. #data))
				elseif path == "/download" then
					assert(stream:write_headers(res, false))
					assert(stream:write_body_from_string(body))
				else
					assert(stream:write_headers(res, false))
					for chunk in stream:each_chunk() do assert(stream:write_chunk(chunk, false)) end
					assert(stream:write_chunk("", true))
				end
			end)
			local h2 = "--http2-prior-knowledge "
			local out, err = support.fetch(server, h2 .. "--data-binary @" .. src .. " " .. support.url(server, "/upload"), 15)
			assert.same("same", out, err)
			local dl = support.tmpname()
			local _, err2, rc = support.fetch(server, h2 .. "-o " .. dl .. " " .. support.url(server, "/download"), 15)
			assert.same(0, rc, err2)
			assert.truthy(support.read(dl) == body)
			local echoed = support.tmpname()
			local _, err3, rc3 = support.fetch(server, h2 .. "--data-binary @" .. src .. " -o " .. echoed .. " "
				.. support.url(server, "/echo"), 15)
			assert.same(0, rc3, err3)
			assert.truthy(support.read(echoed) == body)
		end)
	end)

	describe("errors in onstream", function()
		local function failing(_, stream)
			local h = assert(stream:get_headers())
			if h:get(":path") == "/boom" then error("boom in handler") end
			support.respond(stream, 200, h:get(":path"))
		end

		for _, flag in ipairs({ "--http1.1", "--http2-prior-knowledge" }) do
			it("go to a custom onerror; the client gets a 503 and others are still served (" .. flag .. ")", function()
				local errors = {}
				local server = support.server(failing, {
					onerror = function(s, context, op, err, errno)
						errors[#errors + 1] = { server = s, context = context, op = op, err = err, errno = errno }
					end,
				})
				local out, err = support.fetch(server, flag .. " -o /dev/null -w '%{http_code}' "
					.. support.url(server, "/boom"))
				assert.same("503", out, err)
				assert_serves(server)
				assert.same(1, #errors)
				assert.same(server, errors[1].server)
				assert.same("onstream", errors[1].op)
				assert.truthy(tostring(errors[1].err):find("boom in handler", 1, true), tostring(errors[1].err))
				assert.truthy(errors[1].context)
			end)
		end

		it("are raised from step/loop by default, and the server goes on", function()
			local server = support.server(failing)
			local job = support.spawn(support.curl("-o /dev/null -w '%{http_code}' " .. support.url(server, "/boom")))
			local ok, err = pcall(support.pump, server, job)
			assert.is_false(ok)
			assert.truthy(tostring(err):find("boom in handler", 1, true), tostring(err))
			support.pump(server, job)
			assert.same("503", job:out())
			job = support.spawn(support.curl(support.url(server, "/boom")))
			ok, err = pcall(server.loop, server, 3)
			assert.is_false(ok)
			assert.truthy(tostring(err):find("boom in handler", 1, true), tostring(err))
			support.pump(server, job)
			assert_serves(server)
		end)

		it("can be replaced with server:onerror(handler), which returns the old one", function()
			local server = support.server(failing)
			local default = server:onerror()
			assert.is_function(default)
			local seen
			assert.same(default, server:onerror(function(_, _, op, err) seen = op .. ": " .. tostring(err) end))
			local out = support.fetch(server, "-o /dev/null -w '%{http_code}' " .. support.url(server, "/boom"))
			assert.same("503", out)
			assert.truthy(seen and seen:find("^onstream: .*boom in handler"), seen)
		end)
	end)

	describe("bad input", function()
		local function server_with(options)
			return support.server(function(_, stream)
				local h = assert(stream:get_headers())
				local body, err = stream:get_body_as_string()
				if body then
					support.respond(stream, 200, h:get(":path"))
				else
					support.respond(stream, 413, err)
				end
			end, options)
		end

		local function expect_status(status, request, options)
			local server = server_with(options)
			local out = raw_exchange(server, request)
			local rs = support.parse_responses(out)
			assert.truthy(rs[1], out)
			assert.same(status, rs[1].status, out)
			assert_serves(server)
		end

		it("a malformed request line gets 400", function()
			expect_status("400", "GARBAGE\r\n\r\n")
		end)

		it("a header line over the limit gets 431", function()
			expect_status("431", "GET / HTTP/1.1\r\nHost: x\r\nX-Long: " .. string.rep("a", 1024 * 1024) .. "\r\n\r\n")
		end)

		it("more than 100 header lines get 431", function()
			local lines = {}
			for i = 1, 120 do lines[i] = "X-H" .. i .. ": v\r\n" end
			expect_status("431", "GET / HTTP/1.1\r\nHost: x\r\n" .. table.concat(lines) .. "\r\n")
		end)

		it("an unsupported HTTP version gets 505", function()
			local server = server_with()
			local out = raw_exchange(server, "GET / HTTP/3.0\r\nHost: x\r\n\r\n")
			local status = (support.parse_responses(out)[1] or {}).status
			assert.same("505", status, out)
			assert_serves(server)
		end)

		it("a body over max_body_size gets 413", function()
			expect_status("413", "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n" .. string.rep("a", 1000),
				{ max_body_size = 100 })
		end)

		it("a chunked body over max_body_size fails to read with nil, message, errno", function()
			local got
			local server = support.server(function(_, stream)
				local h = assert(stream:get_headers())
				local result = { stream:get_body_as_string() }
				if result[1] then return support.respond(stream, 200, h:get(":path")) end
				got = result
				support.respond(stream, 413, "too large")
			end, { max_body_size = 100 })
			local out = raw_exchange(server, "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				.. "Transfer-Encoding: chunked\r\n\r\n3e8\r\n" .. string.rep("a", 1000) .. "\r\n0\r\n\r\n")
			assert.truthy(out:find("^HTTP/1.1 413"), out)
			assert.is_nil(got[1])
			assert.is_string(got[2])
			assert.is_number(got[3])
			assert_serves(server)
		end)

		it("conflicting Content-Length headers get 400", function()
			expect_status("400", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
		end)

		it("Content-Length with Transfer-Encoding gets 400 and the connection closed", function()
			local server = server_with()
			-- a smuggled second request hides in the bytes Content-Length would leave over
			local out, err = raw_exchange(server, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
				.. "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
			local rs = support.parse_responses(out)
			assert.same(1, #rs, out)
			assert.same("400", rs[1].status, out)
			assert.truthy(err:find("eof"), err)
			assert_serves(server)
		end)
	end)

	describe("methods", function()
		it("pause stops accepting, resume goes on; loop returns once paused", function()
			local served = 0
			local server = support.server(function(s, stream)
				served = served + 1
				echo_path(s, stream)
			end)
			assert.same(true, server:pause())
			local job = support.spawn(support.curl(support.url(server, "/later")))
			support.run_for(server, 0.6)
			assert.is_false(job:done())
			assert.same(0, served)
			-- loop() does not run while paused
			local t0 = support.now()
			assert.truthy(server:loop(2))
			assert.truthy(support.now() - t0 < 0.5)
			assert.same(true, server:resume())
			support.pump(server, job)
			assert.same("/later", job:out())
			assert.same(1, served)
			-- a handler pausing the server ends loop()
			server.onstream = function(s, stream)
				s:pause()
				echo_path(s, stream)
			end
			job = support.spawn(support.curl(support.url(server, "/pause")))
			t0 = support.now()
			assert.truthy(server:loop(4))
			assert.truthy(support.now() - t0 < 3)
			support.pump(server, job)
			assert.same("/pause", job:out())
		end)

		it("keeps serving connections it already has while paused", function()
			local server = support.server(function(s, stream)
				local h = assert(stream:get_headers())
				if h:get(":path") == "/1" then s:pause() end
				echo_path(s, stream, h)
			end)
			local job = raw_job(server, "send:" .. support.file("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"), "sleep:0.3",
				"send:" .. support.file("GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), "read:3")
			support.pump(server, job)
			local rs = support.parse_responses(job:out())
			assert.same(2, #rs, job:out())
			assert.same("/1", rs[1].body)
			assert.same("/2", rs[2].body)
		end)

		it("close stops the server: no more connections, loop returns, empty() becomes true", function()
			local server = support.server(echo_path)
			assert.is_false(server:empty())
			assert_serves(server)
			local port = support.port(server)
			assert.same(true, server:close())
			local t0 = support.now()
			assert.truthy(server:loop(2))
			assert.truthy(support.now() - t0 < 0.5)
			local job = support.pump(nil, support.spawn(support.curl("http://127.0.0.1:" .. port .. "/")))
			assert.same(7, job:rc()) -- could not connect
			assert.truthy(support.pump_until(server, function() return server:empty() end, 3))
		end)

		it("connections() counts the open client connections", function()
			local server = support.server(echo_path)
			assert.same(0, server:connections())
			local req = support.file("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			local job = raw_job(server, "send:" .. req, "hold:1")
			assert.truthy(support.pump_until(server, function() return server:connections() == 1 end, 3))
			support.pump(server, job)
			assert.truthy(support.pump_until(server, function() return server:connections() == 0 end, 3))
		end)

		it("add_socket serves a connected socket from elsewhere (a luasocket one here)", function()
			local ok, socket = pcall(require, "socket")
			if not ok then pending("luasocket not installed") end
			local peers = {}
			local server = support.server(function(s, stream)
				peers[#peers + 1] = select(3, stream.connection:peername())
				echo_path(s, stream)
			end)
			local l = assert(socket.bind("127.0.0.1", 0))
			local client = assert(socket.connect("127.0.0.1", (select(2, l:getsockname()))))
			local client_port = tonumber((select(2, client:getsockname())))
			local ours = assert(l:accept())
			l:close()
			assert.same(true, server:add_socket(ours))
			ours:close() -- the server serves its own duplicate
			client:settimeout(0)
			assert(client:send("GET /added HTTP/1.1\r\nHost: x\r\n\r\nGET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
			local got = {}
			assert.truthy(support.pump_until(server, function()
				local data, err, partial = client:receive("*a")
				got[#got + 1] = data or partial
				return data ~= nil or err == "closed"
			end))
			client:close()
			local responses = support.parse_responses(table.concat(got))
			assert.same(2, #responses)
			assert.same("/added", responses[1].body)
			assert.same("/again", responses[2].body)
			assert.same({ client_port, client_port }, peers)
			assert.truthy(support.pump_until(server, function() return server:connections() == 0 end, 3))
		end)

		it("step(timeout) serves and otherwise waits up to timeout", function()
			local server = support.server(echo_path)
			-- (a step may return early, e.g. for what other servers left behind)
			server:step(0)
			local t0 = support.now()
			assert.same(true, server:step(0.2))
			local spent = support.now() - t0
			assert.truthy(spent >= 0.15 and spent < 1, spent)
			local job = support.spawn(support.curl(support.url(server, "/s")))
			local deadline = support.now() + 5
			while not job:done() and support.now() < deadline do assert.same(true, server:step(0.05)) end
			assert.same("/s", job:out())
		end)

		it("pollfd/events/timeout let a foreign loop poll the server and step(0) it", function()
			local ok, socket = pcall(require, "socket")
			if not ok then pending("luasocket (socket.select) not installed") end
			local server = support.server(echo_path)
			local fd = server:pollfd()
			assert.is_number(fd)
			if math.type then assert.same("integer", math.type(fd)) end
			assert.truthy(server:events():find("r", 1, true))
			local t = server:timeout()
			assert.truthy(t == nil or (type(t) == "number" and t >= 0))
			local pollable = { getfd = function() return server:pollfd() end }
			local job = support.spawn(support.curl(support.url(server, "/foreign")))
			local rounds, deadline = 0, support.now() + 5
			while not job:done() and support.now() < deadline do
				-- sleep in the foreign loop until the server has something to do
				socket.select({ pollable }, nil, math.min(server:timeout() or 0.25, 0.25))
				assert.same(true, server:step(0))
				rounds = rounds + 1
			end
			assert.same("/foreign", job:out())
			-- the fd becomes readable when there is work: no busy loop (0.25 s per idle round)
			assert.truthy(rounds < 60, rounds)
		end)

		it("listens on a Unix socket with .path", function()
			local path = support.tmpname(".sock")
			local peer
			local server = support.server(function(s, stream)
				peer = { stream:peername() }
				echo_path(s, stream)
			end, { path = path })
			assert.same({ AF_UNIX, path }, { server:localname() })
			local out, err, rc = support.fetch(server, "--unix-socket " .. path .. " http://localhost/unix")
			assert.same(0, rc, err)
			assert.same("/unix", out)
			assert.same(AF_UNIX, peer[1])
		end)

		it("reuseaddr lets a new server take a port whose old connections linger", function()
			local first = support.server(echo_path)
			local port = support.port(first)
			-- the server closes first, leaving its side of the connection in TIME_WAIT
			local out = raw_exchange(first, "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			assert.same("/a", (support.parse_responses(out)[1] or {}).body, out)
			first:close()
			local strict = http_server.listen { host = "127.0.0.1", port = port, reuseaddr = false, onstream = echo_path }
			local ok, _, errno = strict:listen()
			assert.is_nil(ok)
			assert.same(EADDRINUSE, errno)
			local again = support.server(echo_path, { port = port, reuseaddr = true })
			assert.same(port, support.port(again))
			assert_serves(again)
		end)

		it("with max_concurrent = 1 a second client waits for the first connection, then is served", function()
			local times = {}
			local server = support.server(function(s, stream)
				local h = assert(stream:get_headers())
				times[h:get(":path")] = support.now()
				echo_path(s, stream, h)
			end, { max_concurrent = 1 })
			local req = support.file("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
			local first = raw_job(server, "send:" .. req, "hold:1")
			assert.truthy(support.pump_until(server, function() return times["/a"] end, 3))
			local second = support.spawn(support.curl(support.url(server, "/b")))
			support.pump(server, { first, second })
			assert.same("/a", (support.parse_responses(first:out())[1] or {}).body, first:out())
			assert.same("/b", second:out())
			assert.truthy(times["/b"] - times["/a"] >= 0.8, times["/b"] - times["/a"])
		end)

		it("connection_setup_timeout disconnects a client that sends nothing", function()
			local server = support.server(echo_path, { connection_setup_timeout = 0.3 })
			local job = support.pump(server, raw_job(server, "read:4"))
			local eof = tonumber(job:err():match("eof ([%d.]+)"))
			assert.truthy(eof and eof >= 0.25 and eof < 2, job:err())
		end)

		it("intra_stream_timeout ends an idle HTTP/2 connection", function()
			if not support.has_python_module("h2") then pending("python3 module h2 not installed (pip install h2)") end
			local server = support.server(echo_path, { intra_stream_timeout = 0.3 })
			local job = support.pump(server, support.spawn("python3 " .. root .. "/spec/support/h2_client.py "
				.. support.port(server) .. " 0"))
			local ended = tonumber(job:out():match("^%a+ ([%d.]+)"))
			assert.truthy(ended and ended >= 0.25 and ended < 2, job:out() .. job:err())
		end)

		it("close ends an open HTTP/2 connection with a GOAWAY", function()
			if not support.has_python_module("h2") then pending("python3 module h2 not installed (pip install h2)") end
			local server = support.server(echo_path)
			local job = support.spawn("python3 " .. root .. "/spec/support/h2_client.py " .. support.port(server) .. " 0")
			assert.truthy(support.pump_until(server, function() return server:connections() == 1 end, 3))
			assert.same(true, server:close())
			support.pump(server, job)
			assert.truthy(job:out():find("^goaway"), job:out() .. job:err())
			assert.truthy(support.pump_until(server, function() return server:empty() end, 3))
		end)

		it("intra_stream_timeout ends an idle HTTP/2 connection whose peer does not answer pings", function()
			local server = support.server(echo_path, { intra_stream_timeout = 0.3 })
			-- the client preface and an empty SETTINGS frame, then nothing
			local preface = support.file("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0")
			local job = support.pump(server, raw_job(server, "send:" .. preface, "read:3"))
			local eof = tonumber(job:err():match("eof ([%d.]+)"))
			assert.truthy(eof and eof >= 0.25 and eof < 2, job:err())
		end)

		it("version = 1.1 refuses h2c, version = 2 refuses HTTP/1", function()
			local h1 = support.server(echo_path, { version = 1.1 })
			local h2 = support.server(echo_path, { version = 2 })
			local out, err, rc = support.fetch(h1, "--http1.1 " .. support.url(h1, "/one"))
			assert.same("/one", out, err)
			_, _, rc = support.fetch(h1, "--http2-prior-knowledge " .. support.url(h1, "/one"))
			assert.are_not.same(0, rc)
			out, err = support.fetch(h2, "--http2-prior-knowledge " .. support.url(h2, "/two"))
			assert.same("/two", out, err)
			out, _, rc = support.fetch(h2, "--http1.1 " .. support.url(h2, "/two"))
			assert.falsy(rc == 0 and out == "/two", out)
		end)

		it("intra_stream_timeout disconnects an idle keep-alive connection", function()
			local server = support.server(echo_path, { intra_stream_timeout = 0.3 })
			local req = support.file("GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
			local job = support.pump(server, raw_job(server, "send:" .. req, "read:4"))
			assert.same("/idle", (support.parse_responses(job:out())[1] or {}).body, job:out())
			local eof = tonumber(job:err():match("eof ([%d.]+)"))
			assert.truthy(eof and eof >= 0.25 and eof < 2, job:err())
		end)

		it("intra_stream_timeout disconnects a connection whose head stops halfway", function()
			local server = support.server(echo_path, { intra_stream_timeout = 0.3 })
			local req = support.file("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHo")
			local job = support.pump(server, raw_job(server, "send:" .. req, "read:4"))
			assert.same("/a", (support.parse_responses(job:out())[1] or {}).body, job:out())
			local eof = tonumber(job:err():match("eof ([%d.]+)"))
			assert.truthy(eof and eof >= 0.25 and eof < 2, job:err())
		end)

		it("intra_stream_timeout does not cut a keep-alive connection busy with a slow handler or body", function()
			local core = require "http.core"
			local server = support.server(function(s, stream)
				local h = assert(stream:get_headers())
				if h:get(":path") == "/slow" then core.sleep(0.7) end
				if h:get(":method") == "POST" then
					assert.same("hello", stream:get_body_as_string())
				end
				echo_path(s, stream, h)
			end, { intra_stream_timeout = 0.3 })
			local job = support.pump(server, raw_job(server,
				"send:" .. support.file("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"), "sleep:0.9",
				"send:" .. support.file("POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel"), "sleep:0.7",
				"send:" .. support.file("lo"), "sleep:0.1",
				"send:" .. support.file("GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), "read:3"))
			local rs = support.parse_responses(job:out())
			assert.same(3, #rs, job:out())
			assert.same({ "/slow", "/post", "/last" }, { rs[1].body, rs[2].body, rs[3].body })
		end)
	end)

	describe("with cqueues", function()
		local cqueues, saved
		before_each(function()
			saved = package.loaded.cqueues
			local ok, m = pcall(require, "cqueues")
			cqueues = ok and m or nil
		end)
		after_each(function()
			-- the other specs run without cqueues loaded
			package.loaded.cqueues = saved
		end)

		it("a handler in cqueues.sleep suspends only its own request", function()
			if not cqueues then pending("cqueues not installed") end
			local server = support.server(function(s, stream)
				local h = assert(stream:get_headers())
				if h:get(":path") == "/slow" then cqueues.sleep(1) end
				echo_path(s, stream, h)
			end)
			local slow = support.spawn(support.curl(support.url(server, "/slow")))
			support.run_for(server, 0.2)
			local fast = support.spawn(support.curl(support.url(server, "/fast")))
			local t0, fast_time, slow_time = support.now(), nil, nil
			local deadline = t0 + 5
			while not (slow_time and fast_time) and support.now() < deadline do
				server:step(0.02)
				if not fast_time and fast:done() then fast_time = support.now() - t0 end
				if not slow_time and slow:done() then slow_time = support.now() - t0 end
			end
			assert.same("/fast", fast:out())
			assert.same("/slow", slow:out())
			-- the fast request, sent 0.2 s after the slow one, is answered first
			assert.truthy(fast_time < slow_time, fast_time .. " vs " .. slow_time)
		end)

		it("add_socket serves one end of a cqueues socket.pair()", function()
			if not cqueues then pending("cqueues not installed") end
			local ours, client = require("cqueues.socket").pair()
			local server = support.server(echo_path)
			assert.same(true, server:add_socket(ours))
			ours:close() -- the server serves its own duplicate
			client:setmode("b", "b") -- no newline translation
			client:settimeout(0)
			assert(client:write("GET /paired HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
			assert(client:flush())
			local raw
			assert.truthy(support.pump_until(server, function()
				raw = raw or client:read("*a")
				if raw == nil then client:clearerr() end -- a timeout; the data read stays buffered
				return raw ~= nil
			end))
			client:close()
			local responses = support.parse_responses(raw)
			assert.same(1, #responses)
			assert.same("/paired", responses[1].body)
		end)

		it("runs inside a cqueues controller beside other cqueues work", function()
			if not cqueues then pending("cqueues not installed") end
			local cq = cqueues.new()
			local server = support.server(echo_path)
			local ticks, loop_result = 0, nil
			cq:wrap(function() loop_result = { server:loop() } end)
			cq:wrap(function()
				for _ = 1, 100 do
					cqueues.sleep(0.05)
					ticks = ticks + 1
				end
			end)
			-- the server's loop must not keep the controller from running the timer
			local deadline = support.now() + 0.5
			while support.now() < deadline do assert(cq:step(0.05)) end
			assert.truthy(ticks >= 5, ticks)
			local job = support.spawn(support.curl(support.url(server, "/in-cq")))
			deadline = support.now() + 5
			while not job:done() and support.now() < deadline do assert(cq:step(0.05)) end
			assert.same("/in-cq", job:out())
			server:close()
			deadline = support.now() + 2
			while not loop_result and support.now() < deadline do assert(cq:step(0.05)) end
			assert.same({ true }, loop_result)
		end)
	end)
end)
