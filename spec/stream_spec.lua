-- The stream interface (lua-http manual, "stream") as http.server hands it to onstream, over
-- HTTP/1.1 and h2c, driven by real clients (curl, a raw socket) on 127.0.0.1.
local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local support = require "spec.support"
local http_headers = require "http.headers"

local ETIMEDOUT = 110
local unpack = table.unpack or unpack

local PROTOCOLS = {
	{ name = "HTTP/1.1", flag = "--http1.1" },
	{ name = "h2c", flag = "--http2-prior-knowledge" },
}

-- A body big enough to arrive in several chunks, with numbered 1 KiB blocks so that lost or
-- reordered data shows.
local function big_body(kib)
	local parts = {}
	for i = 1, kib do parts[i] = string.format("%07d:", i) .. string.rep(string.char(97 + i % 26), 1015) .. "\n" end
	return table.concat(parts)
end

describe("http.server streams", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	for _, proto in ipairs(PROTOCOLS) do
		local function post(server, body, path)
			return support.fetch(server, proto.flag .. " --data-binary @" .. support.file(body) .. " "
				.. support.url(server, path or "/"))
		end

		-- A server whose handler reads the request with `reader(stream)` (its results are
		-- recorded) and answers "ok".
		local function reading(reader)
			local got = {}
			local server = support.server(function(_, stream)
				assert(stream:get_headers())
				got.values = { reader(stream) }
				support.respond(stream, 200, "ok")
			end)
			return server, got
		end

		describe("over " .. proto.name, function()
			it("get_headers gives the request head with the pseudo-headers first", function()
				local head
				local server = support.server(function(_, stream)
					head = assert(stream:get_headers())
					support.respond(stream, 200, "ok")
				end)
				local out, err = support.fetch(server, proto.flag .. " -H 'X-Test: a' -H 'X-Test: b' "
					.. support.quote(support.url(server, "/p/q?x=1&y=2")))
				assert.same("ok", out, err)
				assert.same("GET", head:get(":method"))
				assert.same("/p/q?x=1&y=2", head:get(":path"))
				assert.same("http", head:get(":scheme"))
				assert.same("127.0.0.1:" .. support.port(server), head:get(":authority"))
				assert.same({ "a", "b" }, { head:get("x-test") })
				local names = {}
				for name in head:each() do names[#names + 1] = name end
				for i = 1, 4 do assert.same(":", names[i]:sub(1, 1), names[i]) end
				for i = 5, #names do assert.are_not.same(":", names[i]:sub(1, 1), names[i]) end
			end)

			it("get_next_chunk returns the body in pieces, then nil", function()
				local body = big_body(300)
				local server, got = reading(function(stream)
					local parts = {}
					while true do
						local chunk, err, errno = stream:get_next_chunk()
						if chunk == nil then return table.concat(parts), #parts, err, errno end
						assert.is_string(chunk)
						parts[#parts + 1] = chunk
					end
				end)
				assert.same("ok", (post(server, body)))
				local data, count, err, errno = unpack(got.values, 1, 4)
				assert.same(#body, #data)
				assert.truthy(data == body)
				assert.truthy(count > 1)
				assert.is_nil(err)
				assert.is_nil(errno)
			end)

			it("each_chunk iterates over the body", function()
				local body = big_body(100)
				local server, got = reading(function(stream)
					local parts = {}
					for chunk in stream:each_chunk() do parts[#parts + 1] = chunk end
					return table.concat(parts)
				end)
				assert.same("ok", (post(server, body)))
				assert.truthy(got.values[1] == body)
			end)

			it("get_body_as_string reads the whole body (and \"\" when there is none)", function()
				local body = big_body(200)
				local server, got = reading(function(stream) return stream:get_body_as_string() end)
				assert.same("ok", (post(server, body)))
				assert.truthy(got.values[1] == body)
				assert.same("ok", (support.fetch(server, proto.flag .. " " .. support.url(server))))
				assert.same({ "" }, got.values)
			end)

			it("get_body_chars reads exactly n bytes, across chunks, and less at the end", function()
				local body = big_body(100)
				local server, got = reading(function(stream)
					return stream:get_body_chars(5), stream:get_body_chars(70000), stream:get_body_chars(#body)
				end)
				assert.same("ok", (post(server, body)))
				local a, b, c = unpack(got.values, 1, 3)
				assert.same(body:sub(1, 5), a)
				assert.truthy(b == body:sub(6, 70005))
				assert.truthy(c == body:sub(70006))
			end)

			it("get_body_until finds plain strings and patterns, keeping or dropping them", function()
				local body = "alpha\r\nbeta;gamma123delta.x" .. big_body(64) .. "MARK-end"
				local server, got = reading(function(stream)
					return stream:get_body_until("\r\n", true, false),
						stream:get_body_until(";", true, true),
						stream:get_body_until("%d+", false, false),
						stream:get_body_until(".", true, true),
						stream:get_body_until("MARK", true, false),
						stream:get_body_until("never", true, false),
						stream:get_body_until("never", true, false)
				end)
				assert.same("ok", (post(server, body)))
				local v = got.values
				assert.same("alpha", v[1])
				assert.same("beta;", v[2])
				assert.same("gamma", v[3]) -- the match itself is consumed
				assert.same("delta.", v[4])
				assert.truthy(v[5] == "x" .. big_body(64))
				assert.same("-end", v[6]) -- no match before the end: what is left
				assert.is_nil(v[7]) -- then nothing (as lua-http)
			end)

			it("at the end of the body: get_body_chars gives nil, get_body_as_string \"\"", function()
				local server, got = reading(function(stream)
					return stream:get_body_chars(10), stream:get_body_chars(3), stream:get_body_as_string()
				end)
				assert.same("ok", (post(server, "abc")))
				assert.same({ "abc", nil, "" }, { got.values[1], got.values[2], got.values[3] })
			end)

			it("save_body_to_file writes the body to a Lua file", function()
				local body = big_body(200)
				local server, got = reading(function(stream)
					local f = io.tmpfile()
					local ok = stream:save_body_to_file(f)
					f:seek("set")
					local data = f:read("*a")
					f:close()
					return ok, data
				end)
				assert.same("ok", (post(server, body)))
				assert.truthy(got.values[1])
				assert.truthy(got.values[2] == body)
			end)

			it("get_body_as_file returns a temporary file with the body, at its start", function()
				local body = big_body(200)
				local server, got = reading(function(stream)
					local f = stream:get_body_as_file()
					local data = f:read("*a")
					f:close()
					return io.type(f), data
				end)
				assert.same("ok", (post(server, body)))
				assert.same("closed file", got.values[1])
				assert.truthy(got.values[2] == body)
			end)

			it("unget puts data back in front of the body", function()
				local body = big_body(50)
				local server, got = reading(function(stream)
					local first = stream:get_next_chunk()
					local r1 = stream:unget(first)
					local r2 = stream:unget("prefix-")
					return r1, r2, stream:get_body_as_string()
				end)
				assert.same("ok", (post(server, body)))
				assert.same(true, got.values[1])
				assert.same(true, got.values[2])
				assert.truthy(got.values[3] == "prefix-" .. body)
			end)

			it("write_headers with end_stream=true answers without a body", function()
				local server = support.server(function(_, stream)
					assert(stream:get_headers())
					local h = http_headers.new()
					h:append(":status", "204")
					h:append("x-answer", "yes")
					assert(stream:write_headers(h, true))
					-- the stream is finished: no more body can follow
					assert.is_nil((stream:write_chunk("late", true)))
				end)
				local out, err, rc = support.fetch(server, proto.flag .. " -i " .. support.url(server))
				assert.same(0, rc, err)
				assert.truthy(out:find("^HTTP/[12][.1]* 204"), out)
				assert.truthy(out:lower():find("\r\nx%-answer: yes\r\n"), out)
				assert.truthy(out:find("\r\n\r\n$"), out)
			end)

			it("write_headers then write_chunk streams the body (chunked on HTTP/1.1)", function()
				local server = support.server(function(_, stream)
					assert(stream:get_headers())
					local h = http_headers.new()
					h:append(":status", "200")
					assert(stream:write_headers(h, false))
					assert(stream:write_chunk("one,", false))
					assert(stream:write_chunk("", false))
					assert(stream:write_chunk("two,", false))
					assert(stream:write_chunk("three", true))
				end)
				local out, err, rc = support.fetch(server, proto.flag .. " -i " .. support.url(server))
				assert.same(0, rc, err)
				assert.truthy(out:find("\r\n\r\none,two,three$"), out)
				if proto.name == "HTTP/1.1" then
					assert.truthy(out:lower():find("\r\ntransfer%-encoding: chunked\r\n"), out)
				end
			end)

			it("a content-length given by the handler is sent as is", function()
				local server = support.server(function(_, stream)
					assert(stream:get_headers())
					support.respond(stream, 200, "12345", { { "content-length", "5" } })
				end)
				local out, err, rc = support.fetch(server, proto.flag .. " -i " .. support.url(server))
				assert.same(0, rc, err)
				assert.truthy(out:lower():find("\r\ncontent%-length: 5\r\n"), out)
				assert.falsy(out:lower():find("transfer%-encoding"), out)
				assert.truthy(out:find("\r\n\r\n12345$"), out)
			end)

			it("write_body_from_string sends the body and ends the stream", function()
				local body = big_body(300)
				local server = support.server(function(_, stream)
					assert(stream:get_headers())
					local h = http_headers.new()
					h:append(":status", "200")
					assert(stream:write_headers(h, false))
					assert(stream:write_body_from_string(body))
				end)
				local out, err, rc = support.fetch(server, proto.flag .. " " .. support.url(server))
				assert.same(0, rc, err)
				assert.truthy(out == body)
			end)

			it("write_body_from_file sends a file from its current offset, or count bytes of it", function()
				local content = big_body(300)
				local path = support.file(content)
				local server = support.server(function(_, stream)
					local req = assert(stream:get_headers())
					local h = http_headers.new()
					h:append(":status", "200")
					assert(stream:write_headers(h, false))
					local f = assert(io.open(path, "rb"))
					f:seek("set", 10)
					if req:get(":path") == "/count" then
						assert(stream:write_body_from_file({ file = f, count = 100000 }))
						-- the file is left just after what was sent
						assert.same(100010, f:seek())
					else
						assert(stream:write_body_from_file(f))
					end
					f:close()
				end)
				local out, err, rc = support.fetch(server, proto.flag .. " " .. support.url(server, "/all"))
				assert.same(0, rc, err)
				assert.truthy(out == content:sub(11))
				out, err, rc = support.fetch(server, proto.flag .. " " .. support.url(server, "/count"))
				assert.same(0, rc, err)
				assert.truthy(out == content:sub(11, 100010))
			end)

			it("shutdown() mid-body: the client sees a broken response, not a short complete one", function()
				local after
				local server = support.server(function(_, stream)
					assert(stream:get_headers())
					local h = http_headers.new()
					h:append(":status", "200")
					assert(stream:write_headers(h, false))
					assert(stream:write_chunk("partial", false))
					assert.same(true, stream:shutdown())
					after = { stream:write_chunk("more", true) }
				end)
				local out, _, rc = support.fetch(server, proto.flag .. " " .. support.url(server))
				assert.are_not.same(0, rc)
				if proto.name == "HTTP/1.1" then
					-- what was written before the shutdown reaches the client (as with lua-http)
					assert.same("partial", out)
				end
				assert.is_nil(after[1])
				assert.is_string(after[2])
			end)

			it("a handler that returns (or shuts down) without answering gives the client a 503", function()
				local server = support.server(function(_, stream)
					local h = assert(stream:get_headers())
					if h:get(":path") == "/shutdown" then stream:shutdown() end
				end)
				for _, path in ipairs({ "/return", "/shutdown" }) do
					local out, err, rc = support.fetch(server, proto.flag .. " -o /dev/null -w '%{http_code}' "
						.. support.url(server, path))
					assert.same(0, rc, err)
					assert.same("503", out)
				end
			end)

			it("write_continue answers Expect: 100-continue before the body is sent", function()
				local expect, body
				local server = support.server(function(_, stream)
					local h = assert(stream:get_headers())
					expect = h:get("expect")
					assert(stream:write_continue())
					body = stream:get_body_as_string()
					support.respond(stream, 200, "got " .. #body)
				end)
				local data = big_body(20)
				-- curl waits 20 s for the 100 (longer than the pump allows) before sending anyway
				local out, err, rc = support.fetch(server, proto.flag .. " -v --expect100-timeout 20 "
					.. "-H 'Expect: 100-continue' --data-binary @" .. support.file(data) .. " " .. support.url(server))
				assert.same(0, rc, err)
				assert.same("got " .. #data, out)
				assert.same("100-continue", expect)
				assert.truthy(err:find("< HTTP/[12][.1]* 100"), err)
			end)
		end)
	end

	it("a handler that answers without reading an Expect: 100-continue body sends no 100", function()
		local server = support.server(function(_, stream)
			assert(stream:get_headers())
			support.respond(stream, 401, "denied")
		end)
		local out, err, rc = support.fetch(server, "--http1.1 -v --expect100-timeout 20 -H 'Expect: 100-continue' "
			.. "--data-binary @" .. support.file(big_body(20)) .. " " .. support.url(server))
		assert.same(0, rc, err)
		assert.same("denied", out)
		assert.falsy(err:find("< HTTP/1.1 100"), err)
		assert.truthy(err:find("< HTTP/1.1 401"), err)
	end)

	it("get_next_chunk with a timeout on a stalled client returns nil, message, ETIMEDOUT", function()
		local got = {}
		local server = support.server(function(_, stream)
			assert(stream:get_headers())
			got.first = stream:get_next_chunk(2)
			local t0 = support.now()
			got.chunk = { stream:get_next_chunk(0.2) }
			got.chunk_time = support.now() - t0
			t0 = support.now()
			got.body = { stream:get_body_as_string(0.2) }
			got.body_time = support.now() - t0
			support.respond(stream, 200, "timed out")
		end)
		local req = support.file("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		local job = support.pump(server, support.spawn(support.raw(support.port(server), "send:" .. req, "hold:1")))
		assert.truthy(job:out():find("timed out", 1, true), job:out())
		assert.same("abc", got.first)
		assert.is_nil(got.chunk[1])
		assert.is_string(got.chunk[2])
		assert.same(ETIMEDOUT, got.chunk[3])
		assert.truthy(got.chunk_time >= 0.15 and got.chunk_time < 1, got.chunk_time)
		assert.is_nil(got.body[1])
		assert.same(ETIMEDOUT, got.body[3])
		assert.truthy(got.body_time >= 0.15 and got.body_time < 1, got.body_time)
	end)

	it("write_chunk with a timeout to a client that does not read returns nil, message, ETIMEDOUT", function()
		local got
		local server = support.server(function(_, stream)
			assert(stream:get_headers())
			local h = http_headers.new()
			h:append(":status", "200")
			assert(stream:write_headers(h, false))
			local piece = string.rep("x", 256 * 1024)
			-- loopback and channel buffers take some megabytes; then the writes must wait
			for i = 1, 400 do
				local t0 = support.now()
				local ok, err, errno = stream:write_chunk(piece, false, 0.2)
				if not ok then
					got = { err = err, errno = errno, waited = support.now() - t0, writes = i }
					break
				end
			end
			stream:shutdown()
		end)
		local req = support.file("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		support.spawn(support.raw(support.port(server), "send:" .. req, "sleep:8"))
		assert.truthy(support.pump_until(server, function() return got end, 6), "every write succeeded")
		assert.is_string(got.err)
		assert.same(ETIMEDOUT, got.errno)
		assert.truthy(got.waited >= 0.15 and got.waited < 1, got.waited)
	end)

	it("write_chunk fails with nil, message, errno once the client has gone", function()
		local got
		local server = support.server(function(_, stream)
			assert(stream:get_headers())
			local h = http_headers.new()
			h:append(":status", "200")
			assert(stream:write_headers(h, false))
			local piece = string.rep("x", 64 * 1024)
			for _ = 1, 100000 do
				local ok, err, errno = stream:write_chunk(piece, false, 2)
				if not ok then
					got = { err = err, errno = errno }
					break
				end
			end
		end)
		local req = support.file("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		-- the client goes away without reading: the writes fill the buffers, then fail
		support.pump(server, support.spawn(support.raw(support.port(server), "send:" .. req, "sleep:0.3")))
		assert.truthy(support.pump_until(server, function() return got end, 5), "the writes did not fail")
		assert.is_string(got.err)
		assert.is_number(got.errno)
		assert.are_not.same(ETIMEDOUT, got.errno)
	end)

	it("sends trailers after the body (HTTP/1.1, client accepts them with TE: trailers)", function()
		local server = support.server(function(_, stream)
			assert(stream:get_headers())
			local h = http_headers.new()
			h:append(":status", "200")
			h:append("trailer", "x-checksum")
			assert(stream:write_headers(h, false))
			assert(stream:write_chunk("body", false))
			local t = http_headers.new()
			t:append("x-checksum", "42")
			assert(stream:write_headers(t, true))
		end)
		local req = support.file("GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n")
		local job = support.pump(server, support.spawn(support.raw(support.port(server), "send:" .. req, "read:3")))
		local r = support.parse_responses(job:out())[1]
		assert.truthy(r, job:out())
		assert.same("body", r.body)
		assert.same("42", r.trailers["x-checksum"], job:out())
	end)

	it("get_headers after the body returns the request trailers (HTTP/1.1 chunked)", function()
		local got = {}
		local server = support.server(function(_, stream)
			assert(stream:get_headers())
			got.body = stream:get_body_as_string()
			local t, err = stream:get_headers()
			got.trailer = t and t:get("x-req-trailer") or err
			support.respond(stream, 200, "ok")
		end)
		local req = support.file("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
			.. "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Req-Trailer: yes\r\n\r\n")
		local job = support.pump(server, support.spawn(support.raw(support.port(server), "send:" .. req, "read:3")))
		assert.truthy(job:out():find("^HTTP/1.1 200"), job:out())
		assert.same("hello world", got.body)
		assert.same("yes", got.trailer)
	end)
end)
