describe("http.proxies", function()
	local proxies = require "http.proxies"

	-- A getenv over a fixed environment that also records which variables were read.
	local function env(vars)
		local read = {}
		return function(name)
			read[#read + 1] = name
			return vars[name]
		end, read
	end
	local function from(vars)
		return proxies.new():update((env(vars)))
	end

	describe("new", function()
		it("returns an empty proxies object that proxies nothing", function()
			local p = proxies.new()
			assert.same("table", type(p))
			assert.same(getmetatable(p), proxies.mt)
			assert.is_nil(p:choose("http", "example.com"))
			assert.is_nil(p:choose("https", "example.com"))
		end)

		it("honours fields set by hand", function()
			local p = proxies.new()
			p.http_proxy = "http://manual:3128"
			assert.same("http://manual:3128", p:choose("http", "example.com"))
			p.no_proxy = "example.com"
			assert.is_nil(p:choose("http", "example.com"))
		end)
	end)

	describe("update", function()
		it("returns the proxies object", function()
			local p = proxies.new()
			assert.equal(p, p:update((env {})))
		end)

		it("stores the variables in the fields http_proxy, https_proxy, all_proxy, no_proxy", function()
			local p = from { http_proxy = "http://h", HTTPS_PROXY = "http://s", ALL_PROXY = "socks5h://a",
				no_proxy = "localhost" }
			assert.same("http://h", p.http_proxy)
			assert.same("http://s", p.https_proxy)
			assert.same("socks5h://a", p.all_proxy)
			assert.same("localhost", p.no_proxy)
		end)

		it("replaces earlier settings", function()
			local p = from { http_proxy = "http://h", no_proxy = "a.com" }
			p:update((env { https_proxy = "http://s" }))
			assert.is_nil(p.http_proxy)
			assert.is_nil(p.no_proxy)
			assert.same("http://s", p:choose("https", "a.com"))
			assert.is_nil(p:choose("http", "a.com"))
		end)

		it("defaults getenv to os.getenv", function()
			local saved = os.getenv
			os.getenv = function(name) return ({ all_proxy = "http://from-os" })[name] end
			local ok, got = pcall(function() return proxies.new():update():choose("http", "x.example") end)
			os.getenv = saved
			assert(ok, got)
			assert.same("http://from-os", got)
		end)

		it("uses http_proxy for http", function()
			local p = from { http_proxy = "http://p:3128" }
			assert.same("http://p:3128", p:choose("http", "example.com"))
			assert.is_nil(p:choose("https", "example.com"))
		end)

		it("never uses HTTP_PROXY (it may come from a client's Proxy: header under CGI)", function()
			local getenv, read = env { HTTP_PROXY = "http://attacker" }
			local p = proxies.new():update(getenv)
			assert.is_nil(p:choose("http", "example.com"))
			for _, name in ipairs(read) do
				assert.are_not.equal("HTTP_PROXY", name)
			end
		end)

		it("uses only CGI_HTTP_PROXY when GATEWAY_INTERFACE is set", function()
			local p = from { GATEWAY_INTERFACE = "CGI/1.1", http_proxy = "http://lower",
				CGI_HTTP_PROXY = "http://cgi" }
			assert.same("http://cgi", p:choose("http", "example.com"))
			p = from { GATEWAY_INTERFACE = "CGI/1.1", http_proxy = "http://lower", HTTP_PROXY = "http://x" }
			assert.is_nil(p:choose("http", "example.com"))
			p = from { GATEWAY_INTERFACE = "", CGI_HTTP_PROXY = "http://cgi" }
			assert.same("http://cgi", p:choose("http", "example.com"))
			p = from { CGI_HTTP_PROXY = "http://cgi" }
			assert.is_nil(p:choose("http", "example.com"))
		end)

		it("reads https_proxy, then HTTPS_PROXY", function()
			assert.same("http://s", from({ https_proxy = "http://s", HTTPS_PROXY = "http://S" }):choose("https", "a.com"))
			assert.same("http://S", from({ HTTPS_PROXY = "http://S" }):choose("https", "a.com"))
		end)

		it("reads all_proxy, then ALL_PROXY", function()
			assert.same("http://a", from({ all_proxy = "http://a", ALL_PROXY = "http://A" }):choose("http", "a.com"))
			assert.same("http://A", from({ ALL_PROXY = "http://A" }):choose("http", "a.com"))
		end)

		it("reads no_proxy, then NO_PROXY", function()
			local p = from { all_proxy = "http://a", no_proxy = "one.com", NO_PROXY = "two.com" }
			assert.is_nil(p:choose("http", "one.com"))
			assert.same("http://a", p:choose("http", "two.com"))
			p = from { all_proxy = "http://a", NO_PROXY = "two.com" }
			assert.is_nil(p:choose("http", "two.com"))
		end)

		it("lets a lower-case variable set to \"\" override the upper-case one", function()
			local p = from { https_proxy = "", HTTPS_PROXY = "http://S" }
			assert.is_nil(p:choose("https", "a.com"))
		end)

		it("treats false as unset and numbers as strings", function()
			local p = from { https_proxy = false, HTTPS_PROXY = "http://S", all_proxy = 42 }
			assert.same("http://S", p:choose("https", "a.com"))
			assert.same("42", p:choose("ftp", "a.com"))
		end)

		it("raises on a bad getenv or getenv result", function()
			local p = proxies.new()
			assert.is_false(pcall(p.update, p, 42))
			local ok, err = pcall(p.update, p, function() return {} end)
			assert.is_false(ok)
			assert.truthy(err:find("getenv returned a table", 1, true), err)
			ok, err = pcall(p.update, p, function() error("no env") end)
			assert.is_false(ok)
			assert.truthy(tostring(err):find("no env", 1, true))
		end)
	end)

	describe("choose", function()
		it("picks the scheme's own proxy over all_proxy", function()
			local p = from { http_proxy = "http://h", https_proxy = "http://s", all_proxy = "socks5h://a" }
			assert.same("http://h", p:choose("http", "a.com"))
			assert.same("http://s", p:choose("https", "a.com"))
			assert.same("socks5h://a", p:choose("ftp", "a.com"))
		end)

		it("falls back to all_proxy for schemes without their own", function()
			local p = from { http_proxy = "http://h", all_proxy = "socks5h://a" }
			assert.same("socks5h://a", p:choose("https", "a.com"))
			assert.same("socks5h://a", p:choose("ws", "a.com"))
		end)

		it("maps only http and https to their variables, case-insensitively", function()
			local p = from { http_proxy = "http://h", https_proxy = "http://s" }
			assert.same("http://h", p:choose("HTTP", "a.com"))
			assert.same("http://s", p:choose("Https", "a.com"))
			assert.is_nil(p:choose("ws", "a.com"))
			assert.is_nil(p:choose("wss", "a.com"))
		end)

		it("treats a variable set to \"\" as no proxy, without falling back to all_proxy", function()
			local p = from { http_proxy = "", all_proxy = "socks5h://a" }
			assert.is_nil(p:choose("http", "a.com"))
			assert.same("socks5h://a", p:choose("https", "a.com"))
			assert.is_nil(from({ all_proxy = "" }):choose("https", "a.com"))
		end)

		it("returns the URI exactly as given", function()
			local p = from { http_proxy = "http://user:pa%20ss@proxy.example:3128/" }
			assert.same("http://user:pa%20ss@proxy.example:3128/", p:choose("http", "a.com"))
		end)

		it("raises on bad arguments", function()
			local p = from { http_proxy = "http://h" }
			assert.is_false(pcall(p.choose, p, "http"))
			assert.is_false(pcall(p.choose, p, nil, "a.com"))
			local ok, err = pcall(p.choose, p, "http", "a.com", 70000)
			assert.is_false(ok)
			assert.truthy(err:find("invalid port", 1, true), err)
			assert.is_false(pcall(p.choose, p, "http", "a.com", 1.5))
		end)
	end)

	describe("no_proxy", function()
		local function bypassed(no_proxy, host, port, scheme)
			local p = from { all_proxy = "http://a", no_proxy = no_proxy }
			return p:choose(scheme or "http", host, port) == nil
		end

		it("* disables proxying for all hosts", function()
			assert.is_true(bypassed("*", "example.com"))
			assert.is_true(bypassed("*", "127.0.0.1"))
			assert.is_true(bypassed(" * ", "example.com"))
			assert.is_true(bypassed("a.com,*", "example.com"))
			assert.is_true(from({ all_proxy = "http://a", NO_PROXY = "*" }):choose("https", "x") == nil)
		end)

		it("matches the host itself and its subdomains", function()
			assert.is_true(bypassed("example.com", "example.com"))
			assert.is_true(bypassed("example.com", "www.example.com"))
			assert.is_true(bypassed("example.com", "a.b.example.com"))
			assert.is_false(bypassed("example.com", "xexample.com"))
			assert.is_false(bypassed("example.com", "example.com.evil"))
			assert.is_false(bypassed("www.example.com", "example.com"))
			assert.is_false(bypassed("example.com", "com"))
		end)

		it("allows a leading dot", function()
			assert.is_true(bypassed(".example.com", "example.com"))
			assert.is_true(bypassed(".example.com", "www.example.com"))
			assert.is_false(bypassed(".example.com", "xexample.com"))
			assert.is_false(bypassed(".", "example.com"))
		end)

		it("compares names case-insensitively and ignores trailing dots", function()
			assert.is_true(bypassed("Example.COM", "www.EXAMPLE.com"))
			assert.is_true(bypassed("example.com.", "example.com"))
			assert.is_true(bypassed("example.com", "www.example.com."))
		end)

		it("splits on commas and ignores blanks and empty entries", function()
			local list = " a.com , b.org,,c.net ,"
			assert.is_true(bypassed(list, "a.com"))
			assert.is_true(bypassed(list, "x.b.org"))
			assert.is_true(bypassed(list, "c.net"))
			assert.is_false(bypassed(list, "d.io"))
			assert.is_false(bypassed("", "d.io"))
			assert.is_false(bypassed(",", "d.io"))
		end)

		it("matches IP addresses exactly, in any notation", function()
			assert.is_true(bypassed("127.0.0.1", "127.0.0.1"))
			assert.is_false(bypassed("127.0.0.1", "127.0.0.2"))
			assert.is_false(bypassed("0.0.1", "127.0.0.1"))
			assert.is_false(bypassed("127.0.0.1", "1.127.0.0.1"))
			assert.is_true(bypassed("::1", "::1"))
			assert.is_true(bypassed("::1", "[::1]"))
			assert.is_true(bypassed("[::1]", "0:0::1"))
			assert.is_false(bypassed("::1", "::2"))
		end)

		it("matches an entry with a port only for that port", function()
			assert.is_true(bypassed("example.com:8080", "example.com", 8080))
			assert.is_true(bypassed("example.com:8080", "www.example.com", 8080))
			assert.is_false(bypassed("example.com:8080", "example.com", 8081))
			assert.is_true(bypassed("127.0.0.1:8080", "127.0.0.1", 8080))
			assert.is_true(bypassed("[::1]:8080", "::1", 8080))
			assert.is_false(bypassed("[::1]:8080", "::1", 80))
		end)

		it("takes the port from the host argument, or else the scheme's default", function()
			assert.is_true(bypassed("example.com:8080", "example.com:8080"))
			assert.is_true(bypassed("[::1]:8080", "[::1]:8080"))
			assert.is_false(bypassed("example.com:8080", "example.com"))
			assert.is_true(bypassed("example.com:80", "example.com"))
			assert.is_true(bypassed("example.com:443", "example.com", nil, "https"))
			assert.is_false(bypassed("example.com:443", "example.com", nil, "ftp"))
			assert.is_true(bypassed("example.com", "example.com:8080"))
			assert.is_true(bypassed("example.com:80", "example.com:8080", 80))
		end)

		it("applies to every scheme", function()
			local p = from { http_proxy = "http://h", https_proxy = "http://s", all_proxy = "http://a",
				no_proxy = "example.com" }
			assert.is_nil(p:choose("http", "example.com"))
			assert.is_nil(p:choose("https", "example.com"))
			assert.is_nil(p:choose("ftp", "example.com"))
			assert.same("http://h", p:choose("http", "example.org"))
		end)
	end)
end)
