-- http.socks: the exact bytes sent (spec/support/socks_fake.py records them and answers as
-- scripted, wrong answers included), then real proxies (python's pproxy, microsocks) tunnelling
-- to our own server in this Lua state, with an HTTP exchange through the tunnel.
local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local support = require "spec.support"
local socks = require "http.socks"
local client = require "http.client"
local http_headers = require "http.headers"

local ETIMEDOUT, ECONNREFUSED, EPIPE, EACCES = 110, 111, 32, 13

-- Wait until the job's stdout matches `pattern`; returns the capture.
local function started(job, pattern)
	local deadline = support.now() + 5
	while not job:out():match(pattern) do
		assert(not job:done() and support.now() < deadline, "did not start: " .. job.cmd .. ": " .. job:err())
		support.sleep(0.05)
	end
	return job:out():match(pattern)
end

-- Fake proxies (see socks_fake.py), one per string of options, started together; returns for
-- each its port and a function giving the messages it received, as {kind, hex} pairs.
local function fakes(list)
	local jobs, logs, result = {}, {}, {}
	for i, options in ipairs(list) do
		logs[i] = support.tmpname(".log")
		jobs[i] = support.spawn("python3 " .. root .. "/spec/support/socks_fake.py " .. logs[i] .. " " .. options)
	end
	for i, job in ipairs(jobs) do
		result[i] = {
			tonumber(started(job, "^(%d+)\n")),
			function()
				local got = {}
				for kind, hex in (support.read(logs[i]) or ""):gmatch("(%a+) (%x*)\n") do got[#got + 1] = { kind, hex } end
				return got
			end,
		}
	end
	return result
end

local function fake(options)
	local f = fakes({ options or "" })[1]
	return f[1], f[2]
end

local function hex(s)
	return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local function port_hex(port)
	return string.format("%04x", port)
end

local function pproxy(auth)
	if not support.has_python_module("pproxy") then pending("python3 module pproxy not installed (pip install pproxy)") end
	-- --auth 0: check the password on every connection (pproxy otherwise trusts an address
	-- that authenticated once).
	local listen = "socks5://127.0.0.1:0" .. (auth and "#" .. auth or "")
	local port = started(support.spawn("python3 -u -m pproxy --auth 0 -l " .. support.quote(listen)), "Serving on [^\n]*:(%d+)")
	return tonumber(port)
end

local function microsocks(args)
	if not support.sh("command -v microsocks >/dev/null") then pending("microsocks not installed") end
	local p = assert(io.popen("python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'"))
	local port = assert(tonumber(p:read("*l")))
	p:close()
	support.spawn("microsocks -i 127.0.0.1 -p " .. port .. " " .. (args or ""))
	assert(support.sh("python3 -c 'import socket, sys, time\nfor i in range(100):\n"
		.. "    try: socket.create_connection((\"127.0.0.1\", " .. port .. ")).close(); sys.exit(0)\n"
		.. "    except OSError: time.sleep(0.05)\nsys.exit(1)'"), "microsocks did not start")
	return tonumber(port)
end

-- Our server answering "<path> via <peer address>".
local function target_server()
	return support.server(function(_, stream)
		local h = assert(stream:get_headers())
		support.respond(stream, 200, h:get(":path") .. " via " .. select(2, stream:peername()))
	end)
end

-- An HTTP/1.1 GET over `socket` (a negotiated tunnel) with http.client.negotiate.
local function get(socket, path)
	local conn = assert(client.negotiate(socket, { host = "127.0.0.1", tls = false, version = 1.1 }, 5))
	local stream = conn:new_stream()
	local h = http_headers.new()
	h:append(":method", "GET")
	h:append(":scheme", "http")
	h:append(":authority", "127.0.0.1")
	h:append(":path", path)
	assert(stream:write_headers(h, true))
	local status = assert(stream:get_headers(5)):get(":status")
	local body = assert(stream:get_body_as_string(5))
	conn:close()
	return status, body
end

describe("http.socks", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	describe("connect", function()
		it("takes socks5:// (resolve here) and socks5h:// (the proxy resolves) URIs", function()
			assert.is_true(socks.connect("socks5://127.0.0.1").needs_resolve)
			assert.is_false(socks.connect("socks5h://127.0.0.1:9050").needs_resolve)
			assert.is_false(socks.connect("SOCKS5H://[::1]:9050/").needs_resolve)
			assert.is_true(socks.connect("socks5://user:pass@proxy.example:1").needs_resolve)
		end)

		it("raises for what is not a SOCKS5 URI, a bad port or userinfo", function()
			for _, uri in ipairs({ "http://h", "socks4://h", "h:1080", "socks5://h:0", "socks5://h:65536",
				"socks5://h:x", "socks5://user@h", "socks5://", "socks5://[::1" }) do
				local ok, err = pcall(socks.connect, uri)
				assert.is_false(ok, uri)
				assert.same("string", type(err), uri)
			end
			local _, err = pcall(socks.connect, "http://proxy")
			assert.truthy(err:find("only SOCKS5 proxies are supported", 1, true), err)
			_, err = pcall(socks.connect, "socks5://proxy:70000")
			assert.truthy(err:find("port out of range", 1, true), err)
		end)
	end)

	describe("negotiate against a scripted proxy", function()
		it("sends a name for socks5h (address type 3) and an address as an address", function()
			local port, got = fake()
			local s = socks.connect("socks5h://127.0.0.1:" .. port)
			assert.is_true(s:negotiate("example.com", 80, 5))
			assert.is_true(s:clone():negotiate("10.1.2.3", 443, 5))
			assert.is_true(s:clone():negotiate("::1", 8080, 5))
			assert.is_true(s:clone():negotiate("[2001:db8::7]", 1, 5))
			assert.same({
				{ "greeting", "050100" }, { "request", "05010003" .. "0b" .. hex("example.com") .. "0050" },
				{ "greeting", "050100" }, { "request", "050100010a010203" .. "01bb" },
				{ "greeting", "050100" }, { "request", "05010004" .. string.rep("00", 15) .. "01" .. "1f90" },
				{ "greeting", "050100" }, { "request", "0501000420010db8" .. string.rep("00", 11) .. "07" .. "0001" },
			}, got())
		end)

		it("resolves the name itself for socks5:// and sends the address", function()
			local port, got = fake()
			local s = socks.connect("socks5://127.0.0.1:" .. port)
			assert.is_true(s:negotiate("localhost", 8000, 5))
			local request = got()[2][2]
			assert.truthy(request == "050100017f000001" .. port_hex(8000)
				or request == "05010004" .. string.rep("00", 15) .. "01" .. port_hex(8000), request)
			-- needs_resolve is a plain field: clearing it sends the name.
			s = socks.connect("socks5://127.0.0.1:" .. port)
			s.needs_resolve = false
			assert.is_true(s:negotiate("localhost", 8000, 5))
			assert.same("05010003" .. "09" .. hex("localhost") .. port_hex(8000), got()[4][2])
			local ok, err = socks.connect("socks5://127.0.0.1:" .. port):negotiate("nonexistent.invalid", 80, 5)
			assert.is_nil(ok)
			assert.truthy(err:find("nonexistent.invalid", 1, true), err)
		end)

		it("reaches a proxy at an IPv6 address", function()
			local port, got = fake("bind=::1")
			assert.is_true(socks.connect("socks5h://[::1]:" .. port):negotiate("a.b", 1, 5))
			assert.same("05010003" .. "03" .. hex("a.b") .. "0001", got()[2][2])
		end)

		it("authenticates with the URI's userinfo (percent-decoded) or add_username_password_auth", function()
			local port, got = fake("method=0502")
			local s = socks.connect("socks5h://us%40er:p%3Ass@127.0.0.1:" .. port)
			assert.is_true(s:negotiate("h", 80, 5))
			-- a clone keeps the credentials
			assert.is_true(s:clone():negotiate("h", 80, 5))
			s = socks.connect("socks5h://127.0.0.1:" .. port)
			assert.is_true(s:add_username_password_auth("me", ""))
			assert.is_true(s:negotiate("h", 80, 5))
			local auth1 = "01" .. "05" .. hex("us@er") .. "04" .. hex("p:ss")
			local request = "05010003" .. "01" .. hex("h") .. "0050"
			assert.same({
				{ "greeting", "05020002" }, { "auth", auth1 }, { "request", request },
				{ "greeting", "05020002" }, { "auth", auth1 }, { "request", request },
				{ "greeting", "05020002" }, { "auth", "01" .. "02" .. hex("me") .. "00" }, { "request", request },
			}, got())
			assert.has_error(function() s:add_username_password_auth(string.rep("u", 256), "p") end)
			assert.has_error(function() s:add_username_password_auth("", "p") end)
		end)

		it("turns the proxy's reply codes into lua-http's messages and errnos", function()
			local cases = {
				{ "05010001000000000000", "socks:negotiate: remote error 1: general SOCKS server failure", 5 },
				{ "05020001000000000000", "socks:negotiate: remote error 2: connection not allowed by ruleset", EACCES },
				{ "05030001000000000000", "socks:negotiate: remote error 3: Network unreachable", 101 },
				{ "0504", "socks:negotiate: remote error 4: Host unreachable", 113 },
				{ "0505", "socks:negotiate: remote error 5: Connection refused", ECONNREFUSED },
				{ "05060001000000000000", "socks:negotiate: remote error 6: TTL expired", ETIMEDOUT },
				{ "05070001000000000000", "socks:negotiate: remote error 7: Command not supported", 95 },
				{ "05080001000000000000", "socks:negotiate: remote error 8: Address type not supported", 97 },
				{ "05090001000000000000", "socks:negotiate: remote error 9: Unknown code", 5 },
			}
			local list = {}
			for i, case in ipairs(cases) do list[i] = "reply=" .. case[1] end
			for i, f in ipairs(fakes(list)) do
				local case = cases[i]
				local ok, err, errno = socks.connect("socks5h://127.0.0.1:" .. f[1]):negotiate("h", 80, 5)
				assert.is_nil(ok)
				assert.same(case[2], err)
				assert.same(case[3], errno)
			end
		end)

		it("gives nil, message, errno for malformed or missing answers", function()
			local cases = {
				{ "method=0400", "", "socks:negotiate: not SOCKS5", 84 },
				{ "method=05ff", "", "socks:negotiate: unknown authentication method", 84 },
				{ "method=0502", "", "socks:negotiate: unknown authentication method", 84 }, -- no credentials offered
				{ "method=close", "", "socks:negotiate: Broken pipe", EPIPE },
				{ "method=05+close", "", "socks:negotiate: Broken pipe", EPIPE },
				{ "reply=04000001000000000000", "", "socks:negotiate: not SOCKS5", 84 },
				{ "reply=05000009000000000000", "", "socks:negotiate: unknown address type", 97 },
				{ "reply=050000010a00+close", "", "socks:negotiate: Broken pipe", EPIPE },
				{ "reply=close", "", "socks:negotiate: Broken pipe", EPIPE },
				{ "method=0502 auth=0101", "u:p@", "username_password_auth: Permission denied", EACCES },
				{ "method=0502 auth=0500", "u:p@", "username_password_auth: invalid username/password auth version", 84 },
				{ "method=0502 auth=close", "u:p@", "username_password_auth: Broken pipe", EPIPE },
			}
			local list = {}
			for i, case in ipairs(cases) do list[i] = case[1] end
			for i, f in ipairs(fakes(list)) do
				local case = cases[i]
				local s = socks.connect("socks5h://" .. case[2] .. "127.0.0.1:" .. f[1])
				local ok, err, errno = s:negotiate("h", 80, 5)
				assert.is_nil(ok, case[1])
				assert.same(case[3], err, case[1])
				assert.same(case[4], errno, case[1])
				assert.is_nil(s:take_socket())
			end
		end)

		it("accepts a reply that binds a name, and times out on a proxy that never answers", function()
			local port = fake("reply=05000003" .. "04" .. hex("name") .. "0050")
			assert.is_true(socks.connect("socks5h://127.0.0.1:" .. port):negotiate("h", 80, 5))
			for _, f in ipairs(fakes({ "method=hang", "reply=hang", "reply=0500" })) do
				local t0 = support.now()
				local ok, err, errno = socks.connect("socks5h://127.0.0.1:" .. f[1]):negotiate("h", 80, 0.3)
				assert.is_nil(ok)
				assert.same("Connection timed out", err)
				assert.same(ETIMEDOUT, errno)
				assert.is_true(support.now() - t0 < 2)
			end
		end)

		it("gives the connection error when no proxy listens", function()
			local server = target_server()
			local port = support.port(server)
			server:close()
			local ok, err, errno = socks.connect("socks5://127.0.0.1:" .. port):negotiate("127.0.0.1", 80, 5)
			assert.is_nil(ok)
			assert.same("Connection refused", err)
			assert.same(ECONNREFUSED, errno)
		end)

		it("raises for a bad host or port", function()
			local s = socks.connect("socks5h://127.0.0.1:1")
			for _, args in ipairs({ { "h", 0 }, { "h", 65536 }, { "h", 1.5 }, { "h", "eighty" }, { "", 80 },
				{ string.rep("x", 256), 80 }, { nil, 80 } }) do
				assert.has_error(function() s:negotiate(args[1], args[2], 1) end)
			end
		end)

		it("hands over the tunnel with take_socket, once; close drops it", function()
			local port = fake()
			local s = socks.connect("socks5h://127.0.0.1:" .. port)
			assert.is_nil(s:take_socket())
			assert(s:negotiate("h", 80, 5))
			local sock = s:take_socket()
			assert.same("http.socket", tostring(sock))
			local family, addr, peer_port = sock:peername()
			assert.same({ 2, "127.0.0.1", port }, { family, addr, peer_port })
			assert.is_nil(s:take_socket())
			sock:close()
			assert(s:negotiate("h", 80, 5))
			assert.is_true(s:close())
			assert.is_nil(s:take_socket())
		end)
	end)

	describe("in a request handler (the coroutine waits, the server keeps serving)", function()
		it("negotiates, and a close meanwhile leaves no socket behind", function()
			local port, got = fake("delay=0.3")
			local s = socks.connect("socks5h://127.0.0.1:" .. port)
			local started, results = false, {}
			local server = support.server(function(_, stream)
				local path = assert(stream:get_headers()):get(":path")
				local target = path:sub(2)
				if target == "closed" then started = true end
				local ok, err = s:negotiate(target, 80, 5)
				results[target] = { ok, err, s:take_socket() ~= nil }
				support.respond(stream, 200, tostring(ok))
			end)
			local body, err = support.fetch(server, support.url(server, "/first"))
			assert.same("true", body, err)
			assert.same({ true, nil, true }, results.first)
			local job = support.spawn(support.curl(support.url(server, "/closed")))
			assert.is_true(support.pump_until(server, function() return started end))
			assert.is_true(s:close())
			support.pump(server, job)
			assert.same({ nil, "socks:negotiate: closed while negotiating", false }, results.closed)
			assert.same(4, #got())
		end)
	end)

	describe("fdopen", function()
		it("negotiates over one of our sockets, taking it over", function()
			local port, got = fake()
			local s = socks.connect("socks5h://127.0.0.1:" .. port)
			assert(s:negotiate("first", 1, 5))
			local sock = s:take_socket()
			-- The fake echoes after its reply: a second negotiation over the tunnel gets its own
			-- greeting back (version 5, method 1) and gives up.
			local inner = socks.fdopen(sock)
			assert.is_false(inner.needs_resolve)
			local ok, err = inner:negotiate("second", 2, 5)
			assert.is_nil(ok)
			assert.same("socks:negotiate: unknown authentication method", err)
			assert.same(2, #got())
			-- the socket was taken over; the failed negotiation dropped it
			local again, err2, errno = socks.fdopen(sock)
			assert.is_nil(again)
			assert.truthy(err2)
			assert.same(EPIPE, errno)
			ok, err, errno = inner:negotiate("third", 3, 5)
			assert.is_nil(ok)
			assert.same(EPIPE, errno, err)
		end)

		it("negotiates over a luasocket socket (a duplicate of its fd)", function()
			local ok, luasocket = pcall(require, "socket")
			if not ok then pending("luasocket not installed") end
			local port, got = fake()
			local conn = assert(luasocket.connect("127.0.0.1", port))
			local s = socks.fdopen(conn)
			conn:close()
			assert.is_true(s:negotiate("h", 80, 5))
			assert.same("05010003" .. "01" .. hex("h") .. "0050", got()[2][2])
			assert(s:take_socket())
		end)

		it("raises for what is not a socket", function()
			assert.has_error(function() socks.fdopen(nil) end)
			assert.has_error(function() socks.fdopen("socket") end)
			assert.has_error(function() socks.fdopen({}) end)
		end)
	end)

	describe("through pproxy", function()
		it("tunnels an HTTP exchange to our server (socks5 and socks5h)", function()
			local port = pproxy()
			local server = target_server()
			for _, uri in ipairs({ "socks5://127.0.0.1:", "socks5h://127.0.0.1:", "socks5h://localhost:" }) do
				local s = socks.connect(uri .. port)
				assert.is_true(s:negotiate(uri:find("socks5h") and "localhost" or "127.0.0.1", support.port(server), 5))
				local status, body = get(s:take_socket(), "/hello")
				assert.same("200", status)
				assert.same("/hello via 127.0.0.1", body)
			end
		end)

		it("checks the password", function()
			local port = pproxy("user:pa ss")
			local server = target_server()
			local s = socks.connect("socks5h://user:pa%20ss@127.0.0.1:" .. port)
			assert.is_true(s:negotiate("127.0.0.1", support.port(server), 5))
			local status, body = get(s:take_socket(), "/authed")
			assert.same("200", status)
			assert.same("/authed via 127.0.0.1", body)
			-- pproxy drops the connection on a wrong password or none
			local ok, err, errno = socks.connect("socks5h://user:wrong@127.0.0.1:" .. port):negotiate("127.0.0.1", 80, 5)
			assert.is_nil(ok)
			assert.same("username_password_auth: Broken pipe", err)
			assert.same(EPIPE, errno)
			ok, err, errno = socks.connect("socks5h://127.0.0.1:" .. port):negotiate("127.0.0.1", 80, 5)
			assert.is_nil(ok)
			assert.same(EPIPE, errno, err)
		end)

		it("chains: a tunnel to the proxy itself, fdopen on it, then on to our server", function()
			local port = pproxy()
			local server = target_server()
			local outer = socks.connect("socks5h://127.0.0.1:" .. port)
			assert.is_true(outer:negotiate("127.0.0.1", port, 5))
			local inner = socks.fdopen(outer:take_socket())
			assert.is_true(inner:negotiate("127.0.0.1", support.port(server), 5))
			local status, body = get(inner:take_socket(), "/chained")
			assert.same("200", status)
			assert.same("/chained via 127.0.0.1", body)
		end)
	end)

	describe("through microsocks", function()
		it("reports a refused target with the proxy's reply code", function()
			local port = microsocks()
			local server = target_server()
			local closed = support.port(server)
			server:close()
			local ok, err, errno = socks.connect("socks5://127.0.0.1:" .. port):negotiate("127.0.0.1", closed, 5)
			assert.is_nil(ok)
			assert.same("socks:negotiate: remote error 5: Connection refused", err)
			assert.same(ECONNREFUSED, errno)
		end)

		it("refuses a wrong password, and tunnels with the right one", function()
			local port = microsocks("-u user -P secret")
			local server = target_server()
			local ok, err, errno = socks.connect("socks5h://user:wrong@127.0.0.1:" .. port):negotiate("127.0.0.1", 80, 5)
			assert.is_nil(ok)
			assert.same("username_password_auth: Permission denied", err)
			assert.same(EACCES, errno)
			local s = socks.connect("socks5h://user:secret@127.0.0.1:" .. port)
			assert.is_true(s:negotiate("127.0.0.1", support.port(server), 5))
			local status, body = get(s:take_socket(), "/micro")
			assert.same("200", status)
			assert.same("/micro via 127.0.0.1", body)
		end)
	end)
end)
