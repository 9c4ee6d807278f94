-- http.compat.socket: luasocket's http.request, against python's http.server (spec/support/
-- request_server.py) and our own server, on 127.0.0.1.
local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local support = require "spec.support"
local peers = require "spec.support.request_peers"
local socket_http = require "http.compat.socket"

describe("http.compat.socket", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	local port, base
	before_each(function()
		port = peers.python("request_server.py")
		base = "http://127.0.0.1:" .. port
	end)

	it("has luasocket's module fields", function()
		assert.same("function", type(socket_http.request))
		assert.same(60, socket_http.TIMEOUT)
		assert.truthy(socket_http.USERAGENT:find("^lua%-http/"))
	end)

	it("string form: GET returns body, code, headers and status line", function()
		local body, code, headers, status = socket_http.request(base .. "/hello")
		assert.same("hello", body)
		assert.same(200, code)
		assert.same("5", headers["content-length"])
		assert.truthy(headers["x-peer"]:find("^%d+$"))
		assert.is_nil(headers[":status"])
		assert.same("HTTP/1.1 200 OK", status)
		body, code, _, status = socket_http.request(base .. "/missing")
		assert.same("not found", body)
		assert.same(404, code)
		assert.same("HTTP/1.1 404 Not Found", status)
	end)

	it("string form: a body makes a form POST", function()
		local body, code = socket_http.request(base .. "/echo", "a=1&b=2")
		assert.same(200, code)
		assert.truthy(body:find("^POST /echo\n"), body)
		body = body:lower()
		assert.truthy(body:find("\ncontent%-type: application/x%-www%-form%-urlencoded\n"), body)
		assert.truthy(body:find("\ncontent%-length: 7\n"), body)
		assert.truthy(body:find("\nuser%-agent: lua%-http/[^\n]*luasocket compatibility layer"), body)
		assert.truthy(body:find("\n\na=1&b=2$"), body)
	end)

	it("table form: method, headers, source, sink; returns 1, code, headers, status", function()
		local ltn12 = require "ltn12"
		local t = {}
		local one, code, headers, status = socket_http.request {
			url = base .. "/echo",
			method = "PUT",
			headers = { ["X-Custom"] = "yes", ["content-length"] = "5" },
			source = ltn12.source.string("hello"),
			sink = ltn12.sink.table(t),
		}
		assert.same(1, one)
		assert.same(200, code)
		assert.same("HTTP/1.1 200 OK", status)
		assert.same("table", type(headers))
		local body = table.concat(t)
		assert.truthy(body:find("^PUT /echo\n"), body)
		assert.truthy(body:lower():find("\nx%-custom: yes\n"), body)
		assert.truthy(body:find("\n\nhello$"), body)
	end)

	it("table form with plain functions as source, sink and step (no ltn12)", function()
		local chunks, steps, got = { "ab", "cd" }, 0, {}
		local i = 0
		local one, code = socket_http.request {
			url = base .. "/upload",
			method = "POST",
			source = function()
				i = i + 1
				return chunks[i]
			end,
			sink = function(chunk)
				if chunk then got[#got + 1] = chunk end
				return 1
			end,
			step = function(src, snk)
				steps = steps + 1
				local chunk, err = src()
				local ok = snk(chunk, err)
				return chunk and ok, err
			end,
		}
		assert.same(1, one)
		assert.same(200, code)
		assert.truthy(table.concat(got):find("^4 e2fc714c4727ee9395f324cd2e7f331f$"), table.concat(got))
		assert.truthy(steps >= 2)
	end)

	it("follows redirects unless redirect = false", function()
		local url = base .. "/redirect?status=302&to=/hello"
		assert.same("hello", (socket_http.request(url)))
		local t = {}
		local one, code, headers = socket_http.request { url = url, redirect = false,
			sink = function(c) t[#t + 1] = c; return 1 end }
		assert.same(1, one)
		assert.same(302, code)
		assert.same("/hello", headers.location)
	end)

	it("uses the proxy it is given", function()
		local t = {}
		socket_http.request { url = "http://example.test/x", proxy = base,
			sink = function(c) t[#t + 1] = c; return 1 end }
		assert.truthy(table.concat(t):find("^GET http://example.test/x\n"), table.concat(t))
	end)

	it("returns nil and luasocket's messages on failure", function()
		local ok, err = socket_http.request("http://127.0.0.1:" .. peers.free_port() .. "/")
		assert.is_nil(ok)
		assert.same("connection refused", err)
		ok, err = socket_http.request("not a url")
		assert.is_nil(ok)
		assert.truthy(err:find("invalid URI"), err)
		local old = socket_http.TIMEOUT
		socket_http.TIMEOUT = 0.3
		local t0 = support.now()
		ok, err = socket_http.request(base .. "/never")
		socket_http.TIMEOUT = old
		assert.is_nil(ok)
		assert.same("timeout", err)
		assert.truthy(support.now() - t0 < 1)
	end)

	it("refuses luasocket's create option and bad arguments", function()
		local ok, err = pcall(socket_http.request, { url = base .. "/hello", create = function() end })
		assert.is_false(ok)
		assert.truthy(err:find("'create' option not supported"), err)
		ok, err = pcall(socket_http.request, {})
		assert.is_false(ok)
		assert.truthy(err:find("url expected"), err)
		ok, err = pcall(socket_http.request, 42)
		assert.is_false(ok)
		assert.truthy(err:find("string or table expected"), err)
	end)

	it("needs no ltn12 for the string form", function()
		local saved = { package.loaded.ltn12, package.preload.ltn12, package.loaded["http.compat.socket"] }
		package.loaded.ltn12 = nil
		package.preload.ltn12 = function() error("ltn12 is not installed") end
		package.loaded["http.compat.socket"] = nil
		local ok, fresh = pcall(require, "http.compat.socket")
		package.loaded.ltn12, package.preload.ltn12, package.loaded["http.compat.socket"] = saved[1], saved[2], saved[3]
		assert.is_true(ok, fresh)
		assert.same("hello", (fresh.request(base .. "/hello")))
	end)

	it("works against our own server in the same process", function()
		local server = support.server(function(_, stream)
			local h = assert(stream:get_headers())
			support.respond(stream, 200, "ours " .. h:get(":method"))
		end, { cq = false })
		local body, code = socket_http.request(support.url(server, "/"), "x=1")
		assert.same("ours POST", body)
		assert.same(200, code)
	end)
end)
