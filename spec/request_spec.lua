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
		assert.truthy(error_of(http_request.new_connect, "http://p"):find("string expected"))
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
