local http_request = require "http.request"
local http_headers = require "http.headers"

local function response(status, location)
	local h = http_headers.new()
	h:append(":status", status)
	if location then h:append("location", location) end
	return h
end

local function error_of(f, ...)
	local ok, err = pcall(f, ...)
	assert(not ok, "expected an error")
	return err
end

describe("http.request offline", function()
	it("new_from_uri fills host, port, tls and the request headers", function()
		local req = http_request.new_from_uri("http://Example.com:8080/a%20b/c?x=1#frag")
		assert.same("example.com", req.host)
		assert.same(8080, req.port)
		assert.same(false, req.tls)
		assert.same("GET", req.headers:get(":method"))
		assert.same("http", req.headers:get(":scheme"))
		assert.same("example.com:8080", req.headers:get(":authority"))
		assert.same("/a%20b/c?x=1", req.headers:get(":path"))
		assert.truthy(req.headers:get("user-agent"):find("^lua%-http/"))
		assert.is_nil(req.headers:get("authorization"))
		assert.same("http://example.com:8080/a%20b/c?x=1", req:to_uri())
	end)

	it("new_from_uri: https, default ports, IPv6, empty path", function()
		local req = http_request.new_from_uri("https://example.com")
		assert.same(443, req.port)
		assert.same(true, req.tls)
		assert.same("/", req.headers:get(":path"))
		assert.same("example.com", req.headers:get(":authority"))
		req = http_request.new_from_uri("http://[::1]:81?q")
		assert.same("::1", req.host)
		assert.same(81, req.port)
		assert.same("[::1]:81", req.headers:get(":authority"))
		assert.same("/?q", req.headers:get(":path"))
		assert.same("http://[::1]:81/?q", req:to_uri())
	end)

	it("userinfo becomes a Basic authorization header, and comes back with to_uri(true)", function()
		local req = http_request.new_from_uri("http://user:pa%20ss@example.com/")
		assert.same("Basic dXNlcjpwYSBzcw==", req.headers:get("authorization"))
		assert.same("http://example.com/", req:to_uri())
		assert.same("http://user:pa%20ss@example.com/", req:to_uri(true))
		req = http_request.new_from_uri("http://u@example.com/")
		assert.same("Basic dTo=", req.headers:get("authorization"))
		assert.same("http://u@example.com/", req:to_uri(true))
		-- lua-http writes "basic"
		req.headers:upsert("authorization", "basic YWxhZGRpbjpvcGVuc2VzYW1l")
		assert.same("http://aladdin:opensesame@example.com/", req:to_uri(true))
	end)

	it("rejects what is not an http(s) URI", function()
		assert.truthy(error_of(http_request.new_from_uri, "ftp://example.com/"):find("scheme not valid"))
		assert.truthy(error_of(http_request.new_from_uri, "example.com"):find("invalid URI"))
		assert.truthy(error_of(http_request.new_from_uri, "http://exa mple.com/"):find("invalid URI"))
		assert.truthy(error_of(http_request.new_from_uri, "http://example.com:99999/"):find("invalid URI"))
		assert.truthy(error_of(http_request.new_from_uri, "http:///x"):find("invalid URI"))
		assert.truthy(error_of(http_request.new_from_uri, 42):find("string expected"))
	end)

	it("new_connect makes a CONNECT request to the proxy", function()
		local req = http_request.new_connect("http://u:p@proxy.example:3128", "example.com:443")
		assert.same("proxy.example", req.host)
		assert.same(3128, req.port)
		assert.same("CONNECT", req.headers:get(":method"))
		assert.same("example.com:443", req.headers:get(":authority"))
		assert.is_nil(req.headers:get(":path"))
		assert.is_nil(req.headers:get(":scheme"))
		assert.same("Basic dTpw", req.headers:get("proxy-authorization"))
		assert.same("http://proxy.example:3128", req:to_uri())
		assert.same("http://u:p@proxy.example:3128", req:to_uri(true))
		assert.truthy(error_of(http_request.new_connect, "http://p/x", "a:1"):find("path"))
		assert.truthy(error_of(http_request.new_connect, "http://p"):find("bad argument #2 to 'new_connect' %(string expected"))
	end)

	it("has lua-http's defaults", function()
		local req = http_request.new_from_uri("http://example.com/")
		assert.same(true, req.follow_redirects)
		assert.same(1, req.expect_100_timeout)
		assert.same(5, req.max_redirects)
		assert.same(false, req.post301)
		assert.same(false, req.post302)
		assert.same(true, req.is_top_level)
		assert.is_nil(req.site_for_cookies)
		assert.is_nil(req.version)
		assert.is_nil(req.proxy)
		assert.is_nil(req.body)
		local other = http_request.new_from_uri("http://example.org/")
		-- shared stores
		assert.truthy(req.hsts and req.hsts == other.hsts)
		assert.truthy(req.cookie_store and req.cookie_store == other.cookie_store)
		assert.truthy(req.proxies and req.proxies == other.proxies)
		assert.same("function", type(req.hsts.check))
		assert.same("function", type(req.cookie_store.lookup))
		assert.same("function", type(req.proxies.choose))
	end)

	it("clone copies fields, with its own headers and h2_settings", function()
		local req = http_request.new_from_uri("http://example.com/")
		req.h2_settings = { ENABLE_PUSH = false }
		req:set_body("abc")
		req.max_redirects = 2
		local c = req:clone()
		assert.same(getmetatable(req), getmetatable(c))
		assert.same(2, c.max_redirects)
		assert.same("abc", c.body)
		assert.are_not.equal(req.headers, c.headers)
		assert.are_not.equal(req.h2_settings, c.h2_settings)
		assert.same(req.h2_settings, c.h2_settings)
		c.headers:upsert(":path", "/other")
		assert.same("/", req.headers:get(":path"))
	end)

	describe("set_body", function()
		it("takes a string and sets content-length (and expect for large ones)", function()
			local req = http_request.new_from_uri("http://example.com/")
			req:set_body("hello")
			assert.same("hello", req.body)
			assert.same("5", req.headers:get("content-length"))
			assert.is_nil(req.headers:get("expect"))
			req:set_body(string.rep("x", 2000))
			assert.same("2000", req.headers:get("content-length"))
			assert.same("100-continue", req.headers:get("expect"))
			req:set_body("")
			assert.same("0", req.headers:get("content-length"))
		end)

		it("takes a function (chunked, expect 100-continue)", function()
			local req = http_request.new_from_uri("http://example.com/")
			req:set_body("abc")
			local f = function() end
			req:set_body(f)
			assert.same(f, req.body)
			assert.is_nil(req.headers:get("content-length"))
			assert.same("100-continue", req.headers:get("expect"))
			assert.same(1, select("#", req.headers:get("expect")))
		end)

		it("takes a file (its size as content-length)", function()
			local req = http_request.new_from_uri("http://example.com/")
			local f = io.tmpfile()
			f:write("hello file")
			req:set_body(f)
			assert.same(f, req.body)
			assert.same("10", req.headers:get("content-length"))
			assert.same("100-continue", req.headers:get("expect"))
			f:close()
		end)

		it("rejects anything else", function()
			local req = http_request.new_from_uri("http://example.com/")
			assert.truthy(error_of(req.set_body, req, 42):find("string, function or file expected"))
			local f = io.tmpfile()
			f:close()
			assert.truthy(error_of(req.set_body, req, f):find("closed file"))
		end)
	end)

	describe("handle_redirect", function()
		local function redirect(status, location, method, body, uri)
			local req = http_request.new_from_uri(uri or "http://example.com/a/b?q")
			if method then req.headers:upsert(":method", method) end
			if body then req:set_body(body) end
			return req:handle_redirect(response(status, location))
		end

		it("resolves relative locations against the request's URI", function()
			local cases = {
				{ "/x", "http://example.com/x" },
				{ "y", "http://example.com/a/y" },
				{ "../../x/./y", "http://example.com/x/y" },
				{ "?q2", "http://example.com/a/b?q2" },
				{ "#frag", "http://example.com/a/b?q" },
				{ "//other.com/z", "http://other.com/z" },
				{ "https://secure.example:8443/p?r#f", "https://secure.example:8443/p?r" },
			}
			for _, case in ipairs(cases) do
				local new = assert(redirect("302", case[1]))
				assert.same(case[2], new:to_uri(), case[1])
			end
			local new = redirect("301", "https://Secure.example/")
			assert.same("secure.example", new.host)
			assert.same(443, new.port)
			assert.same(true, new.tls)
			assert.same("secure.example", new.headers:get(":authority"))
			assert.same("https", new.headers:get(":scheme"))
		end)

		it("sets referer and counts down max_redirects", function()
			local new = assert(redirect("302", "/x"))
			assert.same("http://example.com/a/b?q", new.headers:get("referer"))
			assert.same(4, new.max_redirects)
			local req = http_request.new_from_uri("http://example.com/")
			req.max_redirects = 0
			local ok, err, errno = req:handle_redirect(response("302", "/x"))
			assert.is_nil(ok)
			assert.same("maximum redirects exceeded", err)
			assert.same(40, errno)
		end)

		it("turns POST into a body-less GET on 301/302 (unless post301/post302) and 303", function()
			for _, status in ipairs({ "301", "302", "303" }) do
				local new = assert(redirect(status, "/x", "POST", "data"))
				assert.same("GET", new.headers:get(":method"), status)
				assert.is_nil(new.body)
				assert.is_nil(new.headers:get("content-length"))
			end
			local req = http_request.new_from_uri("http://example.com/")
			req.headers:upsert(":method", "POST")
			req:set_body("data")
			req.post301, req.post302 = true, true
			for _, status in ipairs({ "301", "302" }) do
				local new = assert(req:handle_redirect(response(status, "/x")))
				assert.same("POST", new.headers:get(":method"))
				assert.same("data", new.body)
			end
			assert.same("GET", req:handle_redirect(response("303", "/x")).headers:get(":method"))
			assert.same("HEAD", redirect("303", "/x", "HEAD").headers:get(":method"))
			assert.same("PUT", redirect("302", "/x", "PUT", "d").headers:get(":method"))
		end)

		it("keeps method and body on 307 and 308", function()
			for _, status in ipairs({ "307", "308" }) do
				local new = assert(redirect(status, "/x", "POST", "data"))
				assert.same("POST", new.headers:get(":method"))
				assert.same("data", new.body)
				assert.same("4", new.headers:get("content-length"))
			end
		end)

		it("allows http -> https, refuses https -> http and other schemes", function()
			assert.truthy(redirect("301", "https://example.com/"))
			local ok, err, errno = redirect("301", "http://example.com/", nil, nil, "https://example.com/")
			assert.is_nil(ok)
			assert.truthy(err:find("https to http"))
			assert.same(22, errno)
			ok, err = redirect("301", "ftp://example.com/")
			assert.is_nil(ok)
			assert.same("unknown scheme", err)
			ok, err = redirect("301", "http://bad host/")
			assert.is_nil(ok)
			assert.same("invalid URI in location header", err)
			ok, err = redirect("301", nil)
			assert.is_nil(ok)
			assert.same("missing location header for redirect", err)
		end)

		it("keeps credentials on the same host only", function()
			local req = http_request.new_from_uri("http://u:p@example.com/")
			assert.truthy(req:handle_redirect(response("302", "https://example.com/x")).headers:get("authorization"))
			assert.is_nil(req:handle_redirect(response("302", "http://other.com/x")).headers:get("authorization"))
			local new = req:handle_redirect(response("302", "http://v:w@other.com/x"))
			assert.same("http://v:w@other.com/x", new:to_uri(true))
		end)
	end)
end)

-- Network: our server in this process (the client's waits keep it serving), and real peers
-- on 127.0.0.1 started here and stopped by their ids: python's http.server, a python-h2 server,
-- tinyproxy, pproxy.
local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "."
package.path = root .. "/?.lua;" .. package.path
local support = require "spec.support"
local http_cookie = require "http.cookie"
local http_hsts = require "http.hsts"
local http_proxies = require "http.proxies"
local http_tls = require "http.tls"
local http_zlib = require "http.zlib"
local client = require "http.client"

local ETIMEDOUT = 110

local peers = require "spec.support.request_peers"
local peer, python_peer, free_port, wait_listening = peers.start, peers.python, peers.free_port, peers.wait_listening

local function insecure_ctx()
	local ctx = http_tls.new_client_context()
	ctx:setVerify(http_tls.VERIFY_NONE)
	return ctx
end

-- A request with private stores, so that tests do not see each other's cookies and HSTS hosts.
local function request(uri)
	local req = http_request.new_from_uri(uri)
	req.cookie_store = http_cookie.new_store()
	req.hsts = http_hsts.new_store()
	req.proxies = http_proxies.new()
	return req
end

local function fetch(req, timeout)
	local headers, stream, errno = req:go(timeout or 5)
	assert(headers, tostring(stream) .. " " .. tostring(errno))
	return headers, assert(stream:get_body_as_string(5)), stream
end

-- Our server, answering "<method> <path> <body length>" plus x-* fields describing the request;
-- `routes[path](stream, headers)` answers other paths. It runs its handlers on our scheduler
-- (which the client's waits pump) even once cqueues is loaded, unless options.cq says otherwise.
local function our_server(routes, options)
	options = options or {}
	if options.cq == nil then options.cq = false end
	return support.server(function(_, stream)
		local h = assert(stream:get_headers())
		local route = routes and routes[h:get(":path"):match("^[^?]*")]
		if route then return route(stream, h) end
		local body = assert(stream:get_body_as_string())
		local _, _, peer_port = stream:peername()
		support.respond(stream, 200, h:get(":method") .. " " .. h:get(":path") .. " " .. #body, {
			{ "x-peer", tostring(peer_port) },
			{ "x-cookie", h:get("cookie") or "" },
			{ "x-referer", h:get("referer") or "" },
			{ "x-accept-encoding", h:get("accept-encoding") or "" },
			{ "x-scheme", h:get(":scheme") or "" },
			{ "x-authorization", h:get("authorization") or "" },
			{ "x-body", body:sub(1, 64) },
			{ "x-version", tostring(stream.connection.version) },
		})
	end, options)
end

describe("http.request against our server", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	it("GETs and reuses the kept-alive connection", function()
		local server = our_server()
		local url = support.url(server, "/hello?x=1")
		local peers = {}
		for i = 1, 3 do
			local headers, body = fetch(request(url))
			assert.same("200", headers:get(":status"))
			assert.same("GET /hello?x=1 0", body)
			assert.same("gzip, deflate", headers:get("x-accept-encoding"))
			peers[i] = headers:get("x-peer")
		end
		assert.same(peers[1], peers[2])
		assert.same(peers[1], peers[3])
		-- the request object can go again
		local req = request(url)
		assert.same("GET /hello?x=1 0", select(2, fetch(req)))
		assert.same("GET /hello?x=1 0", select(2, fetch(req)))
	end)

	it("binds to .bind and speaks the .version asked for", function()
		local server = our_server()
		local req = request(support.url(server, "/"))
		local port = free_port()
		req.bind = "127.0.0.1:" .. port
		assert.same(tostring(port), fetch(req):get("x-peer"))
		req = request(support.url(server, "/"))
		req.version = 1.0
		assert.same(1, tonumber(fetch(req):get("x-version")))
		req.version = 2 -- h2c, prior knowledge
		assert.same(2, tonumber(fetch(req):get("x-version")))
	end)

	it("sends the userinfo as Basic credentials", function()
		local server = our_server()
		local headers = fetch(request("http://alad%64in:open%20sesame@127.0.0.1:" .. support.port(server) .. "/"))
		assert.same("Basic YWxhZGRpbjpvcGVuIHNlc2FtZQ==", headers:get("x-authorization"))
	end)

	it("sends string, function and file bodies", function()
		local server = our_server()
		local url = support.url(server, "/up")
		local req = request(url)
		req.headers:upsert(":method", "POST")
		req:set_body("hello")
		local headers, body = fetch(req)
		assert.same("POST /up 5", body)
		assert.same("hello", headers:get("x-body"))
		local parts, i = { "a", "bb", "ccc" }, 0
		req:set_body(function()
			i = i + 1
			return parts[i]
		end)
		headers, body = fetch(req)
		assert.same("POST /up 6", body)
		assert.same("abbccc", headers:get("x-body"))
		local f = io.tmpfile()
		f:write(string.rep("f", 70000))
		req:set_body(f)
		f:seek("set", 100) -- sent from the start all the same
		assert.same("POST /up 70000", select(2, fetch(req)))
		assert.same("POST /up 70000", select(2, fetch(req)))
		f:close()
	end)

	it("follows a redirect chain, carrying cookies and referer", function()
		local routes = {
			["/r1"] = function(stream)
				support.respond(stream, 302, "moved", { { "location", "/r2?a" }, { "set-cookie", "step=1; Path=/" } })
			end,
			["/r2"] = function(stream)
				support.respond(stream, 301, "moved", { { "location", "sub/final" } })
			end,
			["/loop"] = function(stream)
				support.respond(stream, 307, "again", { { "location", "/loop" } })
			end,
			["/not-modified"] = function(stream)
				support.respond(stream, 304, nil, { { "location", "/r1" } })
			end,
		}
		local server = our_server(routes)
		local first = fetch(request(support.url(server, "/"))):get("x-peer")
		local req = request(support.url(server, "/r1"))
		local headers, body = fetch(req)
		assert.same("200", headers:get(":status"))
		assert.same("GET /sub/final 0", body)
		assert.same("step=1", headers:get("x-cookie"))
		assert.same(support.url(server, "/r2?a"), headers:get("x-referer"))
		assert.same(first, headers:get("x-peer")) -- one kept-alive connection all along

		req.follow_redirects = false
		headers, body = fetch(req)
		assert.same("302", headers:get(":status"))
		assert.same("/r2?a", headers:get("location"))
		assert.same("moved", body)

		local ok, err, errno = request(support.url(server, "/loop")):go(5)
		assert.is_nil(ok)
		assert.same("maximum redirects exceeded", err)
		assert.same(40, errno)

		req = request(support.url(server, "/loop"))
		req.max_redirects = 0
		ok, err = req:go(5)
		assert.same("maximum redirects exceeded", err)

		headers = fetch(request(support.url(server, "/not-modified")))
		assert.same("304", headers:get(":status"))
	end)

	it("redirects POST: 303 to a GET without body, 307 and 308 with method and body", function()
		local routes = {}
		for _, status in ipairs({ "301", "302", "303", "307", "308" }) do
			routes["/" .. status] = function(stream)
				assert(stream:get_body_as_string())
				support.respond(stream, tonumber(status), "", { { "location", "/done" } })
			end
		end
		local server = our_server(routes)
		local expected = { ["301"] = "GET /done 0", ["302"] = "GET /done 0", ["303"] = "GET /done 0",
			["307"] = "POST /done 4", ["308"] = "POST /done 4" }
		for status, want in pairs(expected) do
			local req = request(support.url(server, "/" .. status))
			req.headers:upsert(":method", "POST")
			req:set_body("data")
			assert.same(want, select(2, fetch(req)), status)
		end
		local req = request(support.url(server, "/301"))
		req.headers:upsert(":method", "POST")
		req:set_body("data")
		req.post301 = true
		assert.same("POST /done 4", select(2, fetch(req)))
	end)

	it("keeps cookies in its store and sends them back", function()
		local routes = {
			["/login"] = function(stream)
				support.respond(stream, 200, "in", {
					{ "set-cookie", "session=abc; Path=/; HttpOnly" },
					{ "set-cookie", "pref=dark; Path=/app" },
				})
			end,
		}
		local server = our_server(routes)
		local store = http_cookie.new_store()
		local function go(path)
			local req = request(support.url(server, path))
			req.cookie_store = store
			return (fetch(req))
		end
		assert.same("", go("/"):get("x-cookie"))
		go("/login")
		assert.same("abc", store:get("127.0.0.1", "/", "session"))
		assert.same("session=abc", go("/"):get("x-cookie"))
		local both = go("/app/page"):get("x-cookie")
		assert.truthy(both == "pref=dark; session=abc" or both == "session=abc; pref=dark", both)
		-- a cookie header of the caller's own is kept, the store's added to it
		local req = request(support.url(server, "/"))
		req.cookie_store = store
		req.headers:append("cookie", "mine=1")
		assert.same("mine=1; session=abc", fetch(req):get("x-cookie"))
		-- no store: no cookies
		req = request(support.url(server, "/"))
		req.cookie_store = false
		assert.same("", fetch(req):get("x-cookie"))
	end)

	it("uses the shared default cookie store", function()
		local routes = {
			["/set"] = function(stream) support.respond(stream, 200, "", { { "set-cookie", "shared=yes" } }) end,
		}
		local server = our_server(routes)
		assert(http_request.new_from_uri(support.url(server, "/set")):go(5))
		local headers = fetch(http_request.new_from_uri(support.url(server, "/")))
		assert.same("shared=yes", headers:get("x-cookie"))
		http_request.new_from_uri("http://x/").cookie_store:remove("127.0.0.1")
	end)

	it("decodes gzip and deflate bodies it asked for, and leaves others alone", function()
		local text = string.rep("compressible text ", 200)
		local routes = {
			["/deflate"] = function(stream, h)
				local accept = h:get("accept-encoding") or ""
				if accept:find("deflate") then
					support.respond(stream, 200, http_zlib.deflate()(text, true), { { "content-encoding", "deflate" } })
				else
					support.respond(stream, 200, text)
				end
			end,
		}
		local server = our_server(routes)
		local headers, body = fetch(request(support.url(server, "/deflate")))
		assert.same(text, body)
		assert.is_nil(headers:get("content-encoding"))
		local req = request(support.url(server, "/deflate"))
		req.headers:upsert("accept-encoding", "deflate")
		headers, body = fetch(req)
		assert.same("deflate", headers:get("content-encoding"))
		assert.same(text, http_zlib.inflate()(body, true))
		req.headers:upsert("accept-encoding", "identity")
		assert.same(text, select(2, fetch(req)))
	end)

	it("honours Expect: 100-continue (our server answers 100 when it reads, or 417)", function()
		local routes = {
			["/refuse"] = function(stream) support.respond(stream, 417, "no") end,
		}
		local server = our_server(routes)
		local big = string.rep("b", 200000)
		local req = request(support.url(server, "/take"))
		req.headers:upsert(":method", "PUT")
		req:set_body(big)
		assert.same("100-continue", req.headers:get("expect"))
		local t0 = support.now()
		assert.same("PUT /take 200000", select(2, fetch(req)))
		assert.truthy(support.now() - t0 < 0.9) -- did not wait for expect_100_timeout
		req = request(support.url(server, "/refuse"))
		req.headers:upsert(":method", "PUT")
		req:set_body(big)
		local headers, body = fetch(req)
		assert.same("417", headers:get(":status"))
		assert.same("no", body)
		-- the server is fine afterwards
		assert.same("GET / 0", select(2, fetch(request(support.url(server, "/")))))
	end)

	it("speaks TLS to a self-signed server without verification, and refuses it with", function()
		local server = our_server(nil, { tls = true })
		local url = "https://localhost:" .. support.port(server) .. "/secure"
		local ok, err = request(url):go(5)
		assert.is_nil(ok)
		assert.truthy(err:find("certificate"), err)
		local req = request(url)
		req.ctx = insecure_ctx()
		local headers, body, stream = fetch(req)
		assert.same("GET /secure 0", body)
		assert.same("https", headers:get("x-scheme"))
		assert.truthy(stream:checktls())
		assert.same(2, stream.connection.version) -- ALPN
		-- over HTTP/2, a body with Expect: 100-continue does not wait for a 100
		req.headers:upsert(":method", "POST")
		req:set_body(string.rep("x", 5000))
		local t0 = support.now()
		assert.same("POST /secure 5000", select(2, fetch(req)))
		assert.truthy(support.now() - t0 < 0.9)
		req.version = 1.1
		local _, _, stream2 = fetch(req)
		assert.same(1.1, stream2.connection.version)
	end)

	it("records strict-transport-security from https answers and upgrades later requests", function()
		local server = our_server({
			["/sts"] = function(stream)
				support.respond(stream, 200, "sts", { { "strict-transport-security", 'max-age="1000"; includeSubDomains' } })
			end,
		}, { tls = true })
		local port = support.port(server)
		local hsts, ctx = http_hsts.new_store(), insecure_ctx()
		local function go(url, timeout)
			local req = request(url)
			req.hsts, req.ctx = hsts, ctx
			return req:go(timeout or 5)
		end
		-- a plain request to the TLS server fails before
		assert.is_nil(go("http://localhost:" .. port .. "/", 2))
		assert(go("https://localhost:" .. port .. "/sts"))
		assert.is_true(hsts:check("localhost"))
		assert.is_true(hsts:check("sub.localhost"))
		local headers, stream = assert(go("http://localhost:" .. port .. "/after"))
		assert.same("GET /after 0", stream:get_body_as_string())
		assert.same("https", headers:get("x-scheme"))
		-- IP addresses are not HSTS hosts
		assert(go("https://127.0.0.1:" .. port .. "/sts"))
		assert.is_false(hsts:check("127.0.0.1"))
	end)

	it("follows a redirect from http to https, and refuses one from https to http", function()
		local tls_server = our_server({
			["/down"] = function(stream)
				support.respond(stream, 302, "", { { "location", "http://127.0.0.1/" } })
			end,
		}, { tls = true })
		local tls_url = "https://127.0.0.1:" .. support.port(tls_server)
		local plain = our_server({
			["/up"] = function(stream) support.respond(stream, 301, "", { { "location", tls_url .. "/landed" } }) end,
		})
		local req = request(support.url(plain, "/up"))
		req.ctx = insecure_ctx()
		local headers, body = fetch(req)
		assert.same("GET /landed 0", body)
		assert.same("https", headers:get("x-scheme"))
		req = request(tls_url .. "/down")
		req.ctx = insecure_ctx()
		local ok, err = req:go(5)
		assert.is_nil(ok)
		assert.truthy(err:find("https to http"))
	end)

	it("shares an HTTP/2 connection between concurrent requests (cqueues)", function()
		local cqueues = require "cqueues"
		local cq = cqueues.new()
		local server = our_server(nil, { tls = true, cq = cq })
		local url = "https://localhost:" .. support.port(server) .. "/c"
		local ctx = insecure_ctx()
		local peers, n = {}, 0
		local function get(i)
			local req = request(url .. i)
			req.ctx = ctx
			local headers, stream = assert(req:go(5))
			assert.same("GET /c" .. i .. " 0", stream:get_body_as_string())
			peers[headers:get("x-peer")] = true
			n = n + 1
		end
		cq:wrap(function()
			-- requests made once the connection is up share it (concurrent first requests each
			-- open their own: the pool does not wait for a connection that may turn out h2)
			get(0)
			for i = 1, 8 do cq:wrap(get, i) end
		end)
		local deadline = support.now() + 10
		while n < 9 and support.now() < deadline do assert(cq:step(0.05)) end
		assert.same(9, n)
		local count = 0
		for _ in pairs(peers) do count = count + 1 end
		assert.same(1, count)
		server:close()
	end)
end)

describe("http.request against python's http.server (HTTP/1.1 keep-alive)", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	local function url(port, path) return "http://127.0.0.1:" .. port .. path end

	it("reuses one connection for sequential requests", function()
		local port = python_peer("request_server.py")
		local first
		for _ = 1, 5 do
			local headers, body = fetch(request(url(port, "/hello")))
			assert.same("hello", body)
			first = first or headers:get("x-peer")
			assert.same(first, headers:get("x-peer"))
		end
	end)

	it("waits for 100 Continue, takes a 417 at once, and sends after expect_100_timeout", function()
		local port = python_peer("request_server.py")
		local body = string.rep("e", 5000)
		local function put(path, timeout)
			local req = request(url(port, path))
			req.headers:upsert(":method", "PUT")
			req:set_body(body)
			req.expect_100_timeout = timeout or 1
			local t0 = support.now()
			local headers, text = fetch(req)
			return headers:get(":status"), text, support.now() - t0
		end
		local status, text, elapsed = put("/expect")
		assert.same("200", status)
		assert.truthy(text:lower():find("\nexpect: 100-continue\n", 1, true), text:sub(1, 300))
		assert.truthy(text:sub(-5000) == body)
		assert.truthy(elapsed < 0.9, elapsed)
		status, text, elapsed = put("/expect-417")
		assert.same("417", status)
		assert.same("", text)
		assert.truthy(elapsed < 0.9, elapsed)
		status, text, elapsed = put("/expect-silent", 0.4)
		assert.same("200", status)
		assert.truthy(text:sub(-5000) == body)
		assert.truthy(elapsed >= 0.39 and elapsed < 2, elapsed)
	end)

	it("downloads and uploads 10 MB", function()
		local port = python_peer("request_server.py")
		local n = 10 * 1024 * 1024
		local headers, body = fetch(request(url(port, "/big?n=" .. n)), 30)
		assert.same(tostring(n), headers:get("content-length"))
		assert.same(n, #body)
		assert.same(string.rep("0123456789abcdef", 8), body:sub(1, 128))
		assert.same(string.rep("0123456789abcdef", 8), body:sub(-128))
		local req = request(url(port, "/upload"))
		req.headers:upsert(":method", "POST")
		req:set_body(body)
		local md5 = io.popen("python3 -c 'import hashlib,sys; print(hashlib.md5(b\"0123456789abcdef\" * " .. string.format("%d", n / 16) .. ").hexdigest())'")
		local want = md5:read("*l")
		md5:close()
		assert.same(n .. " " .. want, select(2, fetch(req, 30)))
		-- from a file, and from a function
		local f = io.tmpfile()
		f:write(body)
		req:set_body(f)
		assert.same(n .. " " .. want, select(2, fetch(req, 30)))
		f:close()
		local i = 0
		req:set_body(function()
			if i >= n then return nil end
			i = i + 65536
			return body:sub(i - 65535, i)
		end)
		assert.same(n .. " " .. want, select(2, fetch(req, 30)))
	end)

	it("decodes a gzip body", function()
		local port = python_peer("request_server.py")
		local headers, body = fetch(request(url(port, "/gzip")))
		assert.same(string.rep("hello gzip", 100), body)
		assert.is_nil(headers:get("content-encoding"))
	end)

	it("times out as a whole: go(0.5) on a server that never answers", function()
		local port = python_peer("request_server.py")
		local t0 = support.now()
		local ok, err, errno = request(url(port, "/never")):go(0.5)
		local elapsed = support.now() - t0
		assert.is_nil(ok)
		assert.same(ETIMEDOUT, errno)
		assert.same("string", type(err))
		assert.truthy(elapsed >= 0.45 and elapsed < 1, elapsed)
	end)

	it("times out in the TLS handshake with a peer that accepts and says nothing", function()
		local port = peer("python3 -c 'import socket, time; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(); "
			.. "print(s.getsockname()[1], flush=True); c = s.accept(); time.sleep(30)'")
		local t0 = support.now()
		local ok, _, errno = request("https://127.0.0.1:" .. port .. "/"):go(0.5)
		assert.is_nil(ok)
		assert.same(ETIMEDOUT, errno)
		assert.truthy(support.now() - t0 < 1)
	end)

	it("reports a refused connection", function()
		local port = free_port()
		local ok, err, errno = request(url(port, "/")):go(2)
		assert.is_nil(ok)
		assert.same(111, errno, err)
	end)
end)

describe("http.request against an HTTP/2 peer (python-h2)", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	-- Run fn(i) for i = 1..n concurrently under cqueues; returns the results.
	local function concurrently(n, fn)
		local cqueues = require "cqueues"
		local cq = cqueues.new()
		local results = {}
		for i = 1, n do cq:wrap(function() results[i] = fn(i) end) end
		assert(cq:loop(10))
		return results
	end

	it("h2c with prior knowledge: concurrent requests share the connection", function()
		local port = python_peer("request_h2_server.py")
		local base = "http://127.0.0.1:" .. port
		local function get(path, body)
			local req = request(base .. path)
			req.version = 2
			if body then
				req.headers:upsert(":method", "POST")
				req:set_body(body)
			end
			local _, text, stream = fetch(req)
			assert.same(2, stream.connection.version)
			return text
		end
		assert.same("GET /first conn=1 stream=1 body=0", get("/first"))
		assert.truthy(get("/post", "xyz"):find("^POST /post conn=1 stream=%d+ body=3$"))
		local t0 = support.now()
		local results = concurrently(10, function(i) return get("/slow" .. i .. "?delay=0.3") end)
		assert.truthy(support.now() - t0 < 1.5)
		for i = 1, 10 do
			assert.truthy(results[i]:find("^GET /slow" .. i .. "%?delay=0.3 conn=1 "), results[i])
		end
	end)

	it("h2 over TLS (ALPN) to a self-signed peer", function()
		local cert, key = support.tmpname(".pem"), support.tmpname(".key")
		assert(support.sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout " .. key .. " -out " .. cert
			.. " -subj /CN=localhost -days 1 >/dev/null 2>&1"))
		local port = python_peer("request_h2_server.py", cert .. " " .. key)
		local req = request("https://localhost:" .. port .. "/tls")
		assert.is_nil(req:go(5)) -- not trusted
		req.ctx = insecure_ctx()
		local _, text, stream = fetch(req)
		assert.truthy(text:find("^GET /tls conn=%d+ stream=1 body=0$"), text)
		assert.same(2, stream.connection.version)
	end)
end)

describe("http.request through proxies", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	local function tinyproxy()
		local port = free_port()
		local conf = support.file(table.concat({ "Port " .. port, "Listen 127.0.0.1", "Timeout 30", "MaxClients 50",
			"LogLevel Error", "" }, "\n"))
		support.spawn("tinyproxy -d -c " .. conf)
		wait_listening(port)
		return "http://127.0.0.1:" .. port
	end

	local function pproxy()
		local port = free_port()
		support.spawn("python3 -m pproxy -l http+socks5://127.0.0.1:" .. port)
		wait_listening(port)
		return port
	end

	it("sends the absolute URI (and proxy credentials) to an HTTP proxy", function()
		local port = python_peer("request_server.py")
		local req = request("http://example.test:8080/path?q=1")
		req.proxy = "http://us%65r:pw@127.0.0.1:" .. port
		local headers, text = fetch(req)
		assert.same("200", headers:get(":status"))
		assert.truthy(text:find("^GET http://example.test:8080/path%?q=1\n"), text)
		assert.truthy(text:lower():find("\nproxy%-authorization: basic dxnlcjpwdw==\n"), text)
		assert.truthy(text:lower():find("\nhost: example.test:8080\n"), text)
		-- a proxy given as host:port, as in many http_proxy variables
		req.proxy = "127.0.0.1:" .. port
		assert.truthy(select(2, fetch(req)):find("^GET http://example.test:8080/path%?q=1\n"))
	end)

	it("goes through tinyproxy: plain requests and a CONNECT tunnel for https", function()
		local proxy = tinyproxy()
		local port = python_peer("request_server.py")
		local req = request("http://127.0.0.1:" .. port .. "/echo")
		req.proxy = proxy
		local _, text = fetch(req)
		assert.truthy(text:find("^GET /echo\n"), text)
		assert.truthy(text:lower():find("\nvia: [^\n]*tinyproxy"), text)
		-- https: CONNECT, then TLS with the server through the tunnel
		local server = our_server(nil, { tls = true })
		req = request("https://localhost:" .. support.port(server) .. "/tunnelled")
		req.proxy, req.ctx = proxy, insecure_ctx()
		local headers, body, stream = fetch(req)
		assert.same("GET /tunnelled 0", body)
		assert.same("https", headers:get("x-scheme"))
		assert.truthy(stream:checktls())
		-- a refused CONNECT (nothing listens there) is an error
		req = request("https://127.0.0.1:" .. free_port() .. "/")
		req.proxy = proxy
		local ok, err = req:go(5)
		assert.is_nil(ok)
		assert.truthy(err:find("CONNECT"), err)
	end)

	it("asks .proxies when .proxy is nil, and not when it is false", function()
		local proxy = tinyproxy()
		local port = python_peer("request_server.py")
		local env = { http_proxy = proxy, no_proxy = "skip.test" }
		local function through(url, proxy_field)
			local req = request(url)
			req.proxies = http_proxies.new():update(function(name) return env[name] end)
			req.proxy = proxy_field
			local _, text = fetch(req)
			return text:lower():find("\nvia: [^\n]*tinyproxy") ~= nil
		end
		local url = "http://127.0.0.1:" .. port .. "/echo"
		assert.is_true(through(url))
		assert.is_false(through(url, false))
		env.no_proxy = "127.0.0.1"
		assert.is_false(through(url))
	end)

	it("new_connect opens a tunnel through tinyproxy", function()
		local proxy = tinyproxy()
		local port = python_peer("request_server.py")
		local req = http_request.new_connect(proxy, "127.0.0.1:" .. port)
		local headers, stream = assert(req:go(5))
		assert.same("200", headers:get(":status"))
		local socket = assert(stream.connection:take_socket())
		local conn = assert(client.negotiate(socket, { host = "127.0.0.1", port = port }, 5))
		local s = conn:new_stream()
		local h = http_headers.new()
		h:append(":method", "GET")
		h:append(":scheme", "http")
		h:append(":authority", "127.0.0.1:" .. port)
		h:append(":path", "/hello")
		assert(s:write_headers(h, true, 5))
		assert.same("200", assert(s:get_headers(5)):get(":status"))
		assert.same("hello", s:get_body_as_string(5))
		conn:close()
	end)

	-- (ours: lua-http's own, installed on this machine, must not stand in for it)
	local has_socks = support.read(root .. "/lua/http/socks.lua") ~= nil
	local socks_it = has_socks and it or pending
	for _, scheme in ipairs({ "socks5", "socks5h" }) do
		socks_it("goes through a " .. scheme .. " proxy (pproxy), plain and https", function()
			local proxy = scheme .. "://127.0.0.1:" .. pproxy()
			local port = python_peer("request_server.py")
			local req = request("http://localhost:" .. port .. "/echo")
			req.proxy = proxy
			local _, text = fetch(req)
			assert.truthy(text:find("^GET /echo\n"), text)
			local server = our_server(nil, { tls = true })
			req = request("https://localhost:" .. support.port(server) .. "/socks")
			req.proxy, req.ctx = proxy, insecure_ctx()
			assert.same("GET /socks 0", select(2, fetch(req)))
		end)
	end
end)
