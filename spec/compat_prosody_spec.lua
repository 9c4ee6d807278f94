-- http.compat.prosody: prosody's net.http request(url, ex, callback) inside a cqueues
-- controller, against python's http.server (spec/support/request_server.py) on 127.0.0.1.
local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local support = require "spec.support"
local peers = require "spec.support.request_peers"
local prosody_http = require "http.compat.prosody"
local http_request = require "http.request"
local cqueues = require "cqueues"

describe("http.compat.prosody", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	-- Run fn inside a cqueues controller until everything it started is done.
	local function in_cqueue(fn)
		local cq = cqueues.new()
		cq:wrap(fn)
		assert(cq:loop(10))
		assert.is_true(cq:empty())
	end

	it("must be called from inside a cqueue", function()
		local ok, err = pcall(prosody_http.request, "http://127.0.0.1/", {}, function() end)
		assert.is_false(ok)
		assert.truthy(err:find("must be running inside a cqueue"), err)
	end)

	it("GETs and calls back with body, code, response and the request", function()
		local port = peers.python("request_server.py")
		local got, returned
		in_cqueue(function()
			returned = prosody_http.request("http://127.0.0.1:" .. port .. "/hello", nil, function(...)
				got = { n = select("#", ...), ... }
			end)
		end)
		assert.same(getmetatable(http_request.new_from_uri("http://x/")), getmetatable(returned))
		assert.same(4, got.n)
		assert.same("hello", got[1])
		assert.same(200, got[2])
		local response = got[3]
		assert.same(200, response.code)
		assert.same("hello", response.body)
		assert.same("1.1", response.httpversion)
		assert.same("5", response.headers["content-length"])
		assert.same(returned, got[4])
	end)

	it("POSTs ex.body as a form, with ex.headers, and ex.method overrides", function()
		local port = peers.python("request_server.py")
		local bodies = {}
		in_cqueue(function()
			local url = "http://127.0.0.1:" .. port .. "/echo"
			prosody_http.request(url, { body = "a=1", headers = { ["X-Y"] = "z" } }, function(b) bodies.post = b end)
			prosody_http.request(url, { body = "a=2", method = "PUT" }, function(b) bodies.put = b end)
			prosody_http.request(url, { method = "DELETE" }, function(b) bodies.delete = b end)
		end)
		assert.truthy(bodies.post:find("^POST /echo\n"), bodies.post)
		assert.truthy(bodies.post:lower():find("\ncontent%-type: application/x%-www%-form%-urlencoded\n"), bodies.post)
		assert.truthy(bodies.post:lower():find("\nx%-y: z\n"), bodies.post)
		assert.truthy(bodies.post:find("\n\na=1$"), bodies.post)
		assert.truthy(bodies.put:find("^PUT /echo\n.*\n\na=2$"), bodies.put)
		assert.truthy(bodies.delete:find("^DELETE /echo\n"), bodies.delete)
	end)

	it("runs requests concurrently", function()
		local port = peers.python("request_server.py")
		local codes = {}
		local t0 = support.now()
		in_cqueue(function()
			for i = 1, 5 do
				prosody_http.request("http://127.0.0.1:" .. port .. "/hello", {}, function(_, code) codes[i] = code end)
			end
		end)
		assert.same({ 200, 200, 200, 200, 200 }, codes)
		assert.truthy(support.now() - t0 < 5)
	end)

	it("calls back with the error, 0 and the request on failure", function()
		local got
		in_cqueue(function()
			prosody_http.request("http://127.0.0.1:" .. peers.free_port() .. "/", {}, function(...)
				got = { n = select("#", ...), ... }
			end)
		end)
		assert.same(3, got.n)
		assert.same("string", type(got[1]))
		assert.same(0, got[2])
		assert.same("http.request", getmetatable(got[3]).__name)
	end)
end)
