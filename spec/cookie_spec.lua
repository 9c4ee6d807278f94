describe("http.cookie", function()
	local http_cookie = require "http.cookie"
	local http_headers = require "http.headers"

	local function headers(list)
		local h = http_headers.new()
		for i = 1, #list, 2 do
			h:append(list[i], list[i + 1])
		end
		return h
	end

	local function errors_with(pattern, f, ...)
		local ok, err = pcall(f, ...)
		assert.falsy(ok)
		assert.truthy(string.find(err, pattern, 1, true), err)
	end

	describe("bake", function()
		it("bakes a bare cookie", function()
			assert.same("foo=bar", http_cookie.bake("foo", "bar"))
			assert.same("foo=", http_cookie.bake("foo", ""))
			assert.same("n=1", http_cookie.bake("n", 1))
		end)
		it("writes expiry times as an IMF-fixdate Expires", function()
			assert.same("foo=bar; Expires=Thu, 01 Jan 1970 00:00:00 GMT", http_cookie.bake("foo", "bar", 0))
			assert.same("foo=bar; Expires=Sun, 09 Sep 2001 01:46:40 GMT", http_cookie.bake("foo", "bar", 1e9))
			assert.same("foo=bar; Expires=Wed, 31 Dec 1969 23:59:59 GMT", http_cookie.bake("foo", "bar", -1))
			assert.same("foo=bar; Expires=Thu, 01 Jan 1970 00:00:01 GMT", http_cookie.bake("foo", "bar", 1.5))
			assert.same("foo=bar; Expires=Tue, 29 Feb 2000 12:00:00 GMT", http_cookie.bake("foo", "bar", 951825600))
		end)
		it("treats math.huge as a session cookie and -math.huge as Max-Age=0", function()
			assert.same("foo=bar", http_cookie.bake("foo", "bar", math.huge))
			assert.same("foo=bar; Max-Age=0", http_cookie.bake("foo", "bar", -math.huge))
		end)
		it("adds attributes in lua-http's order", function()
			assert.same("foo=bar; Domain=example.com; Path=/p; Secure; HttpOnly; SameSite=Strict",
				http_cookie.bake("foo", "bar", nil, "example.com", "/p", true, true, "strict"))
			assert.same("foo=bar; Secure; HttpOnly", http_cookie.bake("foo", "bar", nil, nil, nil, 1, "x"))
			assert.same("foo=bar", http_cookie.bake("foo", "bar", nil, false, false, false, false, false))
		end)
		it("accepts strict, lax and none for same_site", function()
			assert.same("a=b; SameSite=Lax", http_cookie.bake("a", "b", nil, nil, nil, nil, nil, "lax"))
			assert.same("a=b; SameSite=None", http_cookie.bake("a", "b", nil, nil, nil, nil, nil, "none"))
			assert.same("a=b; SameSite=Strict", http_cookie.bake("a", "b", nil, nil, nil, nil, nil, "Strict"))
			errors_with("invalid value for same_site", http_cookie.bake, "a", "b", nil, nil, nil, nil, nil, "bogus")
		end)
		it("passes bytes through", function()
			assert.same("k=v\128\255", http_cookie.bake("k", "v\128\255"))
		end)
		it("rejects missing names and values and bad expiry times", function()
			errors_with("bad argument #1 to 'bake' (string expected, got nil)", http_cookie.bake, nil, "x")
			errors_with("bad argument #2 to 'bake' (string expected, got nil)", http_cookie.bake, "x", nil)
			errors_with("bad argument #3 to 'bake'", http_cookie.bake, "x", "y", {})
			errors_with("bad argument #4 to 'bake'", http_cookie.bake, "x", "y", nil, {})
		end)
		it("round-trips through parse_setcookie", function()
			local name, value, params = http_cookie.parse_setcookie(
				http_cookie.bake("foo", "bar", 0, "example.com", "/", true, true, "lax"))
			assert.same("foo", name)
			assert.same("bar", value)
			assert.same({
				expires = "Thu, 01 Jan 1970 00:00:00 GMT",
				domain = "example.com",
				path = "/",
				secure = true,
				httponly = true,
				samesite = "Lax",
			}, params)
		end)
	end)

	describe("parse_cookie", function()
		it("parses name and value pairs", function()
			assert.same({foo = "bar"}, http_cookie.parse_cookie("foo=bar"))
			assert.same({foo = "bar", baz = "qux"}, http_cookie.parse_cookie("foo=bar; baz=qux"))
			assert.same({foo = "bar", baz = "qux"}, http_cookie.parse_cookie("foo=bar;baz=qux"))
			assert.same({}, http_cookie.parse_cookie(""))
		end)
		it("keeps everything after the first '=' and allows empty values", function()
			assert.same({a = "b=c", d = ""}, http_cookie.parse_cookie("a=b=c; d="))
		end)
		it("removes surrounding double quotes", function()
			assert.same({a = "b", c = "d e"}, http_cookie.parse_cookie('a="b"; c="d e"'))
			assert.same({a = '"b'}, http_cookie.parse_cookie('a="b'))
		end)
		it("lets a later pair with the same name win", function()
			assert.same({foo = "baz"}, http_cookie.parse_cookie("foo=bar; foo=baz"))
		end)
		it("tolerates whitespace and skips pairs without a name or '='", function()
			assert.same({foo = "bar", baz = "qux"}, http_cookie.parse_cookie(" foo = bar ;; baz= qux ; junk; =x;"))
		end)
		it("keeps non-UTF-8 bytes", function()
			assert.same({a = "\255\128 x"}, http_cookie.parse_cookie("a=\255\128 x"))
		end)
		it("requires a string", function()
			errors_with("bad argument #1 to 'parse_cookie' (string expected, got nil)", http_cookie.parse_cookie)
		end)
	end)

	describe("parse_cookies", function()
		it("merges every Cookie header of a headers object", function()
			local h = headers {":method", "GET", "cookie", "a=b; c=d", "cookie", "e=f", "other", "x=y", "cookie", "a=z"}
			assert.same({a = "z", c = "d", e = "f"}, http_cookie.parse_cookies(h))
		end)
		it("returns an empty table when there is no Cookie header", function()
			assert.same({}, http_cookie.parse_cookies(http_headers.new()))
		end)
	end)

	describe("parse_setcookie", function()
		it("returns name, value and a table of attributes", function()
			local name, value, params = http_cookie.parse_setcookie("SID=31d4d96e407aad42; Path=/; Domain=example.com")
			assert.same("SID", name)
			assert.same("31d4d96e407aad42", value)
			assert.same({path = "/", domain = "example.com"}, params)
		end)
		it("lower-cases attribute names and keeps values as strings", function()
			local _, _, params = http_cookie.parse_setcookie(
				"a=b; Expires=Wed, 09 Jun 2021 10:18:14 GMT; Max-Age=100; SameSite=Strict; Foo=Baz")
			assert.same({
				expires = "Wed, 09 Jun 2021 10:18:14 GMT",
				["max-age"] = "100",
				samesite = "Strict",
				foo = "Baz",
			}, params)
			_, _, params = http_cookie.parse_setcookie("a=b; Max-Age=abc; Domain=.Example.COM")
			assert.same({["max-age"] = "abc", domain = ".Example.COM"}, params)
		end)
		it("gives true for attributes without a value", function()
			local _, _, params = http_cookie.parse_setcookie("a=b; Secure; HttpOnly; secure2=1")
			assert.same({secure = true, httponly = true, secure2 = "1"}, params)
		end)
		it("lets a later attribute win", function()
			local _, _, params = http_cookie.parse_setcookie("a=b; Path=/a; path=/b")
			assert.same({path = "/b"}, params)
		end)
		it("trims whitespace and removes quotes around the value", function()
			local name, value, params = http_cookie.parse_setcookie(' foo = "bar" ;  Path = /x ;; Secure')
			assert.same("foo", name)
			assert.same("bar", value)
			assert.same({path = "/x", secure = true}, params)
		end)
		it("keeps '=' in values and non-UTF-8 bytes", function()
			local name, value = http_cookie.parse_setcookie("f\255=b=a\128r")
			assert.same("f\255", name)
			assert.same("b=a\128r", value)
		end)
		it("returns nothing for a string without a name and value", function()
			assert.same(0, select("#", http_cookie.parse_setcookie("foo")))
			assert.same(0, select("#", http_cookie.parse_setcookie("=bar")))
			assert.same(0, select("#", http_cookie.parse_setcookie("")))
			assert.same(0, select("#", http_cookie.parse_setcookie("foo; a=b")))
		end)
	end)

	describe("store", function()
		local now, s
		before_each(function()
			now = 1000000
			s = http_cookie.new_store()
			s.time = function() return now end
		end)
		-- lookup with everything allowed
		local function all(host, path)
			return s:lookup(host, path or "/", true, true, true, host, true)
		end

		it("has lua-http's fields", function()
			local fresh = http_cookie.new_store()
			assert.same(false, fresh.psl)
			assert.same(math.huge, fresh.max_cookie_length)
			assert.same(math.huge, fresh.max_cookies)
			assert.same(math.huge, fresh.max_cookies_per_domain)
			assert.same("number", type(fresh.time()))
			assert.truthy(math.abs(fresh.time() - os.time()) <= 1)
			assert.same(math.huge, fresh:clean_due())
		end)

		it("stores, gets and looks up a cookie", function()
			assert.same(true, s:store("example.com", "/", true, true, nil, "foo", "bar", {}))
			assert.same("bar", s:get("example.com", "/", "foo"))
			assert.same(nil, s:get("example.com", "/", "nope"))
			assert.same("foo=bar", all("example.com"))
			assert.same("", all("other.com"))
		end)

		it("accepts a missing params table", function()
			assert.same(true, s:store("example.com", "/", true, true, nil, "foo", "bar"))
			assert.same("foo=bar", all("example.com"))
		end)

		it("keeps names and values as bytes", function()
			assert.truthy(s:store("example.com", "/", true, true, nil, "n\255", "v\128;", {}))
			assert.same("v\128;", s:get("example.com", "/", "n\255"))
			assert.same("n\255=v\128;", all("example.com"))
		end)

		describe("domains", function()
			it("makes cookies without Domain host-only", function()
				assert.truthy(s:store("www.example.com", "/", true, true, nil, "a", "1", {}))
				assert.same("a=1", all("www.example.com"))
				assert.same("", all("sub.www.example.com"))
				assert.same("", all("example.com"))
			end)
			it("sends cookies with Domain to subdomains", function()
				assert.truthy(s:store("www.example.com", "/", true, true, nil, "d", "1", {domain = ".Example.COM"}))
				assert.same("1", s:get("example.com", "/", "d"))
				assert.same(nil, s:get("www.example.com", "/", "d"))
				assert.same("d=1", all("example.com"))
				assert.same("d=1", all("x.www.example.com"))
				assert.same("", all("notexample.com"))
			end)
			it("refuses a Domain the host does not domain-match", function()
				assert.same(false, s:store("www.example.com", "/", true, true, nil, "e", "1", {domain = "other.com"}))
				assert.same(false, s:store("www.example.com", "/", true, true, nil, "e", "1", {domain = "w.example.com"}))
				assert.same(false, s:store("example.com", "/", true, true, nil, "e", "1", {domain = "www.example.com"}))
			end)
			it("ignores an empty Domain", function()
				assert.truthy(s:store("www.example.com", "/", true, true, nil, "e", "1", {domain = ""}))
				assert.same("e=1", all("www.example.com"))
				assert.same("", all("x.www.example.com"))
			end)
			it("compares hosts case-insensitively", function()
				assert.truthy(s:store("WWW.Example.com", "/", true, true, nil, "a", "1", {}))
				assert.same("1", s:get("www.example.com", "/", "a"))
				assert.same("a=1", all("www.EXAMPLE.com"))
			end)
			it("only domain-matches IP addresses exactly", function()
				assert.same(false, s:store("127.0.0.1", "/", true, true, nil, "ip", "1", {domain = "0.0.1"}))
				assert.truthy(s:store("127.0.0.1", "/", true, true, nil, "ip", "1", {domain = "127.0.0.1"}))
				assert.same("ip=1", all("127.0.0.1"))
				assert.truthy(s:store("10.0.0.1", "/", true, true, nil, "ip", "2", {}))
				assert.same("", all("1.10.0.0.1"))
			end)
		end)

		describe("paths", function()
			it("uses the default path of the request path", function()
				assert.truthy(s:store("h.com", "/a/b", true, true, nil, "a", "1", {}))
				assert.same("1", s:get("h.com", "/a", "a"))
				assert.truthy(s:store("h.com", "/a", true, true, nil, "b", "1", {}))
				assert.same("1", s:get("h.com", "/", "b"))
				assert.truthy(s:store("h.com", "/a/b?x=/c/d", true, true, nil, "c", "1", {}))
				assert.same("1", s:get("h.com", "/a", "c"))
				assert.truthy(s:store("h.com", "", true, true, nil, "d", "1", {}))
				assert.same("1", s:get("h.com", "/", "d"))
			end)
			it("uses the default path when Path does not start with '/'", function()
				assert.truthy(s:store("h.com", "/a/b", true, true, nil, "a", "1", {path = "x"}))
				assert.same("1", s:get("h.com", "/a", "a"))
				assert.truthy(s:store("h.com", "/a/b", true, true, nil, "b", "1", {path = ""}))
				assert.same("1", s:get("h.com", "/a", "b"))
			end)
			it("sends a cookie to paths that path-match its path", function()
				assert.truthy(s:store("h.com", "/", true, true, nil, "p", "1", {path = "/a/b"}))
				assert.same("p=1", all("h.com", "/a/b"))
				assert.same("p=1", all("h.com", "/a/b/c"))
				assert.same("p=1", all("h.com", "/a/b?q=1"))
				assert.same("", all("h.com", "/a/bc"))
				assert.same("", all("h.com", "/a"))
				assert.truthy(s:store("h.com", "/", true, true, nil, "q", "1", {path = "/d/"}))
				assert.same("", all("h.com", "/d"))
				assert.same("q=1", all("h.com", "/d/"))
				assert.same("q=1", all("h.com", "/d/e"))
			end)
		end)

		describe("Secure", function()
			it("cannot be set from an insecure origin", function()
				assert.same(false, s:store("h.com", "/", true, false, nil, "s", "1", {secure = true}))
				assert.same(true, s:store("h.com", "/", true, true, nil, "s", "1", {secure = true}))
			end)
			it("is set by any true value", function()
				assert.same(true, s:store("h.com", "/", true, true, nil, "s", "1", {secure = 1}))
				assert.same("", s:lookup("h.com", "/", true, false, true, "h.com", true))
			end)
			it("is only sent over secure protocols", function()
				s:store("h.com", "/", true, true, nil, "s", "1", {secure = true})
				assert.same("", s:lookup("h.com", "/", true, false, true, "h.com", true))
				assert.same("s=1", s:lookup("h.com", "/", true, true, true, "h.com", true))
			end)
			it("cannot be overwritten or shadowed from an insecure origin", function()
				s:store("h.com", "/", true, true, nil, "s", "1", {secure = true})
				assert.same(false, s:store("h.com", "/", true, false, nil, "s", "2", {}))
				assert.same(false, s:store("x.h.com", "/", true, false, nil, "s", "2", {}))
				assert.same(false, s:store("h.com", "/", true, false, nil, "s", "2", {path = "/deeper"}))
				assert.same(true, s:store("h.com", "/", true, false, nil, "other", "2", {}))
				assert.same(true, s:store("h.com", "/", true, true, nil, "s", "3", {}))
				assert.same("3", s:get("h.com", "/", "s"))
			end)
		end)

		describe("HttpOnly", function()
			it("cannot be set from a non-HTTP API", function()
				assert.same(false, s:store("h.com", "/", false, true, nil, "h", "1", {httponly = true}))
				assert.same(false, s:store("h.com", "/", nil, true, nil, "h", "1", {httponly = true}))
				assert.same(true, s:store("h.com", "/", true, true, nil, "h", "1", {httponly = true}))
			end)
			it("is hidden from non-HTTP APIs", function()
				s:store("h.com", "/", true, true, nil, "h", "1", {httponly = true})
				s:store("h.com", "/", true, true, nil, "p", "2", {})
				assert.same("p=2", s:lookup("h.com", "/", false, true, true, "h.com", true))
				assert.same("h=1; p=2", s:lookup("h.com", "/", true, true, true, "h.com", true))
			end)
			it("cannot be overwritten from a non-HTTP API", function()
				s:store("h.com", "/", true, true, nil, "h", "1", {httponly = true})
				assert.same(false, s:store("h.com", "/", false, true, nil, "h", "2", {}))
				assert.same("1", s:get("h.com", "/", "h"))
			end)
		end)

		describe("SameSite", function()
			it("can only be set from a same-site context", function()
				assert.same(true, s:store("h.com", "/", true, true, "h.com", "st", "1", {samesite = "Strict"}))
				assert.same(true, s:store("h.com", "/", true, true, "H.COM", "lx", "1", {samesite = "lax"}))
				assert.same(false, s:store("h.com", "/", true, true, "other.com", "st2", "1", {samesite = "Strict"}))
				assert.same(false, s:store("h.com", "/", true, true, nil, "st3", "1", {samesite = "Strict"}))
				assert.same(false, s:store("a.h.com", "/", true, true, "h.com", "lx2", "1", {samesite = "Lax"}))
				assert.same(true, s:store("h.com", "/", true, true, "other.com", "no", "1", {samesite = "None"}))
				assert.same(true, s:store("h.com", "/", true, true, "other.com", "bo", "1", {samesite = "bogus"}))
			end)
			it("limits which requests get the cookie", function()
				s:store("h.com", "/", true, true, "h.com", "st", "1", {samesite = "Strict"})
				s:store("h.com", "/", true, true, "h.com", "lx", "1", {samesite = "Lax"})
				s:store("h.com", "/", true, true, "h.com", "no", "1", {samesite = "None"})
				s:store("h.com", "/", true, true, "h.com", "plain", "1", {})
				local function look(safe, site, top)
					return s:lookup("h.com", "/", true, true, safe, site, top)
				end
				-- same-site: everything
				assert.same("st=1; lx=1; no=1; plain=1", look(true, "h.com", true))
				assert.same("st=1; lx=1; no=1; plain=1", look(false, "h.com", false))
				-- cross-site: Lax only for safe top-level requests, Strict never
				assert.same("lx=1; no=1; plain=1", look(true, "other.com", true))
				assert.same("no=1; plain=1", look(false, "other.com", true))
				assert.same("no=1; plain=1", look(true, "other.com", false))
				-- an unknown site for cookies is cross-site
				assert.same("lx=1; no=1; plain=1", look(true, nil, true))
				assert.same("no=1; plain=1", look(false, nil, false))
				-- a subdomain is another site without a public suffix list
				assert.same("lx=1; no=1; plain=1", look(true, "a.h.com", true))
			end)
		end)

		describe("expiry", function()
			it("expires cookies by Max-Age at the store's time", function()
				assert.truthy(s:store("h.com", "/", true, true, nil, "a", "1", {["max-age"] = "10"}))
				now = now + 10
				assert.same("1", s:get("h.com", "/", "a"))
				assert.same("a=1", all("h.com"))
				now = now + 1
				assert.same(nil, s:get("h.com", "/", "a"))
				assert.same("", all("h.com"))
			end)
			it("expires cookies by Expires", function()
				assert.truthy(s:store("h.com", "/", true, true, nil, "a", "1", {expires = "Mon, 12 Jan 1970 13:46:50 GMT"}))
				assert.same(1000010 - now, s:clean_due())
				now = 1000011
				assert.same("", all("h.com"))
			end)
			it("lets Max-Age beat Expires", function()
				assert.truthy(s:store("h.com", "/", true, true, nil, "a", "1",
					{["max-age"] = "100", expires = "Thu, 01 Jan 1970 00:00:00 GMT"}))
				assert.same("a=1", all("h.com"))
				assert.same(100, s:clean_due())
			end)
			it("takes numbers for Max-Age and Expires", function()
				s:store("h.com", "/", true, true, nil, "a", "1", {["max-age"] = 50})
				s:store("h.com", "/", true, true, nil, "b", "1", {expires = now + 20})
				assert.same(20, s:clean_due())
				now = now + 21
				assert.same("a=1", all("h.com"))
			end)
			it("ignores invalid Max-Age and Expires", function()
				for i, v in ipairs {"abc", "1.5", "+5", ""} do
					assert.truthy(s:store("h.com", "/", true, true, nil, "m" .. i, "1", {["max-age"] = v}))
				end
				assert.truthy(s:store("h.com", "/", true, true, nil, "e", "1", {expires = "bogus"}))
				assert.truthy(s:store("h.com", "/", true, true, nil, "f", "1", {expires = "Sun, 31 Feb 2033 08:49:37 GMT"}))
				assert.same(math.huge, s:clean_due())
				assert.same("m1=1; m2=1; m3=1; m4=1; e=1; f=1", all("h.com"))
			end)
			it("understands the cookie-date formats of RFC 6265", function()
				for i, d in ipairs {
					"Sun, 06 Nov 2033 08:49:37 GMT",
					"Sunday, 06-Nov-33 08:49:37 GMT",
					"Sun Nov  6 08:49:37 2033",
					"6 nov 2033 8:49:37",
					"06 November 2033 08:49:37 +0100",
				} do
					local t = http_cookie.new_store()
					t.time = s.time
					assert.truthy(t:store("h.com", "/", true, true, nil, "a", "1", {expires = d}))
					assert.same(2014879777 - now, t:clean_due(), d)
				end
			end)
			it("removes a cookie set again with Max-Age=0 or a past Expires", function()
				s:store("h.com", "/", true, true, nil, "a", "1", {})
				s:store("h.com", "/", true, true, nil, "b", "1", {})
				s:store("h.com", "/", true, true, nil, "c", "1", {})
				assert.same(true, s:store("h.com", "/", true, true, nil, "a", "x", {["max-age"] = "0"}))
				assert.same(true, s:store("h.com", "/", true, true, nil, "b", "x", {["max-age"] = "-1"}))
				assert.same(true, s:store("h.com", "/", true, true, nil, "c", "x", {expires = "Thu, 01 Jan 1970 00:00:00 GMT"}))
				assert.same("", all("h.com"))
				assert.same(nil, s:get("h.com", "/", "a"))
			end)
			it("cleans expired cookies", function()
				s:store("h.com", "/", true, true, nil, "a", "1", {["max-age"] = "5"})
				s:store("h.com", "/", true, true, nil, "b", "1", {["max-age"] = "15"})
				s:store("h.com", "/", true, true, nil, "c", "1", {})
				assert.same(5, s:clean_due())
				now = now + 10
				assert.same(0, s:clean_due())
				assert.same(true, s:clean())
				assert.same(5, s:clean_due())
				assert.same("b=1; c=1", all("h.com"))
			end)
		end)

		describe("cookie prefixes", function()
			it("requires Secure for __Secure-", function()
				assert.same(false, s:store("h.com", "/", true, true, nil, "__Secure-a", "v", {}))
				assert.same(true, s:store("h.com", "/", true, true, nil, "__Secure-a", "v", {secure = true}))
				assert.same(false, s:store("h.com", "/", true, false, nil, "__Secure-b", "v", {secure = true}))
				-- the prefix is case-sensitive
				assert.same(true, s:store("h.com", "/", true, true, nil, "__secure-c", "v", {}))
			end)
			it("requires Secure, no Domain and Path=/ for __Host-", function()
				assert.same(true, s:store("h.com", "/x", true, true, nil, "__Host-a", "v", {secure = true, path = "/"}))
				assert.same(false, s:store("h.com", "/", true, true, nil, "__Host-b", "v", {secure = true}))
				assert.same(false, s:store("h.com", "/", true, true, nil, "__Host-c", "v", {path = "/"}))
				assert.same(false, s:store("h.com", "/", true, true, nil, "__Host-d", "v",
					{secure = true, path = "/", domain = "h.com"}))
				assert.same(false, s:store("h.com", "/", true, true, nil, "__Host-e", "v", {secure = true, path = "/x"}))
				assert.same(true, s:store("h.com", "/", true, true, nil, "__host-f", "v", {}))
			end)
		end)

		describe("ordering", function()
			it("puts longer paths first, then earlier creation times", function()
				s:store("h.com", "/", true, true, nil, "root", "1", {})
				now = now + 1
				s:store("h.com", "/", true, true, nil, "b", "1", {path = "/a/b"})
				now = now - 1 -- an older cookie created later
				s:store("h.com", "/", true, true, nil, "a", "1", {path = "/a/b"})
				s:store("h.com", "/", true, true, nil, "mid", "1", {path = "/a"})
				s:store("h.com", "/", true, true, nil, "x", "1", {})
				assert.same("a=1; b=1; mid=1; root=1; x=1", all("h.com", "/a/b/c"))
			end)
			it("keeps the creation time of a replaced cookie", function()
				s:store("h.com", "/", true, true, nil, "a", "1", {})
				now = now + 1
				s:store("h.com", "/", true, true, nil, "b", "1", {})
				now = now + 1
				s:store("h.com", "/", true, true, nil, "a", "2", {})
				assert.same("a=2; b=1", all("h.com"))
			end)
			it("orders host and domain cookies together", function()
				s:store("www.h.com", "/", true, true, nil, "a", "1", {})
				s:store("www.h.com", "/", true, true, nil, "b", "2", {domain = "h.com"})
				s:store("www.h.com", "/", true, true, nil, "c", "3", {})
				assert.same("a=1; b=2; c=3", all("www.h.com"))
			end)
		end)

		describe("limits", function()
			it("refuses cookies longer than max_cookie_length", function()
				s.max_cookie_length = 7
				assert.same(true, s:store("h.com", "/", true, true, nil, "foo", "bar", {}))
				assert.same(false, s:store("h.com", "/", true, true, nil, "foo", "barr", {}))
				assert.same(true, s:store("h.com", "/", true, true, nil, "fo", "bar", {path = "/a/long/path"}))
			end)
			it("limits the Cookie header length in lookup", function()
				s:store("h.com", "/", true, true, nil, "foo", "bar", {})
				s:store("h.com", "/", true, true, nil, "longer", "value", {})
				s:store("h.com", "/", true, true, nil, "x", "y", {})
				assert.same("foo=bar; longer=value; x=y", all("h.com"))
				assert.same("foo=bar; longer=value; x=y", s:lookup("h.com", "/", true, true, true, nil, true, 26))
				assert.same("foo=bar; longer=value", s:lookup("h.com", "/", true, true, true, nil, true, 25))
				assert.same("foo=bar; x=y", s:lookup("h.com", "/", true, true, true, nil, true, 20))
				assert.same("x=y", s:lookup("h.com", "/", true, true, true, nil, true, 6))
				assert.same("", s:lookup("h.com", "/", true, true, true, nil, true, 0))
				-- the store's max_cookie_length is the default
				s.max_cookie_length = 12
				assert.same("foo=bar; x=y", all("h.com"))
				assert.same("foo=bar; longer=value; x=y", s:lookup("h.com", "/", true, true, true, nil, true, 100))
			end)
			it("refuses new cookies beyond max_cookies", function()
				s.max_cookies = 2
				assert.same(true, s:store("h.com", "/", true, true, nil, "a", "1", {}))
				assert.same(true, s:store("g.com", "/", true, true, nil, "b", "1", {["max-age"] = "10"}))
				assert.same(false, s:store("h.com", "/", true, true, nil, "c", "1", {}))
				-- replacing is fine
				assert.same(true, s:store("h.com", "/", true, true, nil, "a", "2", {}))
				assert.same("2", s:get("h.com", "/", "a"))
				-- expired cookies make room
				now = now + 20
				assert.same(true, s:store("h.com", "/", true, true, nil, "c", "1", {}))
				assert.same("a=2; c=1", all("h.com"))
			end)
			it("refuses new cookies beyond max_cookies_per_domain", function()
				s.max_cookies_per_domain = 2
				assert.same(true, s:store("h.com", "/", true, true, nil, "a", "1", {}))
				assert.same(true, s:store("h.com", "/x", true, true, nil, "b", "1", {}))
				assert.same(false, s:store("h.com", "/", true, true, nil, "c", "1", {}))
				assert.same(false, s:store("x.h.com", "/", true, true, nil, "d", "1", {domain = "h.com"}))
				assert.same(true, s:store("x.h.com", "/", true, true, nil, "c", "1", {}))
				assert.same(true, s:store("h.com", "/", true, true, nil, "a", "3", {}))
			end)
			it("keeps existing cookies when a limit is lowered", function()
				s:store("h.com", "/", true, true, nil, "a", "1", {})
				s:store("h.com", "/", true, true, nil, "b", "1", {})
				s.max_cookies = 1
				assert.same("a=1; b=1", all("h.com"))
				assert.same(false, s:store("h.com", "/", true, true, nil, "c", "1", {}))
			end)
		end)

		describe("remove", function()
			before_each(function()
				s:store("h.com", "/", true, true, nil, "a", "1", {})
				s:store("h.com", "/", true, true, nil, "b", "1", {})
				s:store("h.com", "/p/q", true, true, nil, "c", "1", {})
				s:store("g.com", "/", true, true, nil, "d", "1", {})
			end)
			it("removes one cookie", function()
				s:remove("h.com", "/", "a")
				assert.same(nil, s:get("h.com", "/", "a"))
				assert.same("1", s:get("h.com", "/", "b"))
			end)
			it("removes all cookies of a domain and path", function()
				s:remove("h.com", "/")
				assert.same(nil, s:get("h.com", "/", "b"))
				assert.same("1", s:get("h.com", "/p", "c"))
			end)
			it("removes all cookies of a domain", function()
				s:remove("h.com")
				assert.same(nil, s:get("h.com", "/p", "c"))
				assert.same("1", s:get("g.com", "/", "d"))
				s:remove("nope.com", "/", "x")
			end)
		end)

		describe("requests", function()
			local function request(list)
				return headers(list)
			end
			it("stores the cookies of a response", function()
				local req = request {":method", "GET", ":authority", "www.h.com:8080", ":path", "/a/b?x", ":scheme", "http"}
				local resp = request {":status", "200", "set-cookie", "a=1", "set-cookie", "b=2; Secure",
					"set-cookie", "c=3; Path=/", "set-cookie", "bad", "set-cookie", "d=4; SameSite=Strict",
					"set-cookie", "e=5; Domain=h.com"}
				assert.same(true, s:store_from_request(req, resp, "ignored.com", "www.h.com"))
				assert.same("1", s:get("www.h.com", "/a", "a"))
				assert.same(nil, s:get("www.h.com", "/a", "b")) -- Secure over http
				assert.same("3", s:get("www.h.com", "/", "c"))
				assert.same("4", s:get("www.h.com", "/a", "d"))
				assert.same("5", s:get("h.com", "/a", "e"))
			end)
			it("uses the host argument without an :authority", function()
				local req = request {":method", "GET", ":path", "/", ":scheme", "https"}
				s:store_from_request(req, request {"set-cookie", "z=1; Secure"}, "No-Auth.com")
				assert.same("z=1", all("no-auth.com"))
				assert.same("z=1", s:lookup_for_request(req, "no-auth.com"))
			end)
			it("takes the host out of an IPv6 authority", function()
				local req = request {":method", "GET", ":authority", "[::1]:80", ":path", "/", ":scheme", "http"}
				s:store_from_request(req, request {"set-cookie", "z=1"})
				assert.same("z=1", all("::1"))
			end)
			it("does not store SameSite cookies from a cross-site request", function()
				local req = request {":method", "GET", ":authority", "h.com", ":path", "/", ":scheme", "https"}
				s:store_from_request(req, request {"set-cookie", "a=1; SameSite=Lax", "set-cookie", "b=1"}, nil, "other.com")
				assert.same("b=1", all("h.com"))
			end)
			it("finds the cookies for a request", function()
				s:store("www.h.com", "/a/", true, true, "www.h.com", "a", "1", {})
				s:store("www.h.com", "/a/", true, true, "www.h.com", "s", "2", {secure = true})
				s:store("www.h.com", "/a/", true, true, "www.h.com", "st", "3", {samesite = "Strict"})
				s:store("www.h.com", "/a/", true, true, "www.h.com", "lx", "4", {samesite = "Lax"})
				s:store("www.h.com", "/", true, true, "www.h.com", "h", "5", {httponly = true})
				local function look(method, authority, path, scheme, site, top)
					return s:lookup_for_request(request {":method", method, ":authority", authority, ":path", path,
						":scheme", scheme}, "www.h.com", site, top)
				end
				assert.same("a=1; s=2; st=3; lx=4; h=5", look("GET", "www.h.com:443", "/a/x", "https", "www.h.com", true))
				assert.same("a=1; st=3; lx=4; h=5", look("GET", "WWW.H.COM", "/a/x", "http", "www.h.com", true))
				assert.same("h=5", look("GET", "www.h.com", "/b", "https", "www.h.com", true))
				assert.same("a=1; s=2; lx=4; h=5", look("HEAD", "www.h.com", "/a", "https", "other.com", true))
				assert.same("a=1; s=2; h=5", look("POST", "www.h.com", "/a", "https", "other.com", true))
				assert.same("a=1; s=2; h=5", look("GET", "www.h.com", "/a", "https", nil, false))
				assert.same("a=1", s:lookup_for_request(request {":method", "GET", ":authority", "www.h.com",
					":path", "/a", ":scheme", "http"}, nil, nil, true, 3))
			end)
			it("needs a host", function()
				errors_with("no :authority", s.lookup_for_request, s, request {":method", "GET", ":path", "/"})
			end)
		end)

		describe("psl", function()
			-- a stand-in for a lua-psl object that knows the suffix "com"
			local psl = {
				is_public_suffix = function(_, d) return d == "com" end,
				registrable_domain = function(_, d) return d:match("[^.]+%.com$") end,
			}
			it("refuses a public suffix as Domain unless it is the host", function()
				s.psl = psl
				assert.same(false, s:store("h.com", "/", true, true, nil, "a", "1", {domain = "com"}))
				assert.same(true, s:store("com", "/", true, true, nil, "b", "1", {domain = "com"}))
				assert.same("b=1", all("com"))
				assert.same("", all("h.com"))
			end)
			it("compares registered domains for SameSite", function()
				s.psl = psl
				assert.same(true, s:store("a.h.com", "/", true, true, "b.h.com", "a", "1", {samesite = "Strict"}))
				assert.same("a=1", s:lookup("a.h.com", "/", true, true, false, "h.com", false))
				assert.same("", s:lookup("a.h.com", "/", true, true, true, "g.com", true))
			end)
		end)

		describe("files", function()
			local curl_jar = table.concat({
				"# Netscape HTTP Cookie File",
				"# https://curl.se/docs/http-cookies.html",
				"# This file was generated by libcurl! Edit at your own risk.",
				"",
				".example.com\tTRUE\t/\tFALSE\t0\tsession\tval",
				"#HttpOnly_example.com\tFALSE\t/p\tTRUE\t2000000\tho\tv v",
				"example.com\tFALSE\t/\tFALSE\t999999\texpired\tv",
				"not a cookie line",
				"example.com\tFALSE\t/\tFALSE\tsoon\tbadexpiry\tv",
				"example.com\tFALSE\t/\tFALSE\t0\ttoo\tmany\tfields",
				"example.com\tFALSE\tnoslash\tFALSE\t0\tbadpath\tv",
				"example.com\tFALSE\t/\tFALSE\t0\tempty\t",
				"example.com\tFALSE\t/\tFALSE\t0\tcrlf\tv\r",
				"www.example.com\tFALSE\t/\tFALSE\t3000000\tlast\tv",
			}, "\n")

			local function tmpfile(contents)
				local f = io.tmpfile()
				f:write(contents)
				f:seek("set")
				return f
			end

			it("loads a jar written by curl", function()
				assert.same(true, s:load_from_file(tmpfile(curl_jar)))
				-- .example.com TRUE: sent to subdomains; #HttpOnly_: not for non-HTTP APIs
				assert.same("session=val", s:lookup("x.example.com", "/", true, false, true, nil, true))
				assert.same("ho=v v; session=val; empty=; crlf=v",
					s:lookup("example.com", "/p", true, true, true, nil, true))
				assert.same("session=val; empty=; crlf=v", s:lookup("example.com", "/p", false, true, true, nil, true))
				-- ho is Secure and host-only
				assert.same("session=val; empty=; crlf=v", s:lookup("example.com", "/p", true, false, true, nil, true))
				assert.same("session=val; last=v", s:lookup("www.example.com", "/", true, false, true, nil, true))
				-- expired and invalid lines are ignored
				assert.same(nil, s:get("example.com", "/", "expired"))
				assert.same(nil, s:get("example.com", "/", "badexpiry"))
				assert.same(nil, s:get("example.com", "/", "too"))
				assert.same(2000000 - now, s:clean_due())
				now = 2000001
				assert.same("session=val; empty=; crlf=v", s:lookup("example.com", "/p", true, true, true, nil, true))
			end)

			it("writes the Netscape format", function()
				s:store("www.h.com", "/", true, true, nil, "a", "1", {})
				s:store("www.h.com", "/p/q", true, true, nil, "b", "2 3",
					{domain = "h.com", secure = true, httponly = true, ["max-age"] = "100"})
				local f = io.tmpfile()
				assert.same(true, s:save_to_file(f))
				f:seek("set")
				assert.same(table.concat({
					"# Netscape HTTP Cookie File",
					"# This file was generated by lua-http",
					"",
					"www.h.com\tFALSE\t/\tFALSE\t0\ta\t1",
					"#HttpOnly_.h.com\tTRUE\t/p\tTRUE\t1000100\tb\t2 3",
					"",
				}, "\n"), f:read("*a"))
			end)

			it("round-trips through a file", function()
				s:store("www.h.com", "/", true, true, nil, "a", "1", {})
				s:store("www.h.com", "/p/q", true, true, nil, "b", "2 3",
					{domain = "h.com", secure = true, httponly = true, ["max-age"] = "100"})
				s:store("h.com", "/", true, true, nil, "c", "", {expires = "Sun, 06 Nov 2033 08:49:37 GMT"})
				local f = io.tmpfile()
				assert.same(true, s:save_to_file(f))
				f:seek("set")
				local t = http_cookie.new_store()
				t.time = s.time
				assert.same(true, t:load_from_file(f))
				for _, host in ipairs {"www.h.com", "h.com", "x.h.com"} do
					for _, secure in ipairs {true, false} do
						for _, http in ipairs {true, false} do
							assert.same(s:lookup(host, "/p", http, secure, true, nil, true),
								t:lookup(host, "/p", http, secure, true, nil, true))
						end
					end
				end
				assert.same(s:clean_due(), t:clean_due())
				local g = io.tmpfile()
				t:save_to_file(g)
				f:seek("set")
				g:seek("set")
				assert.same(f:read("*a"), g:read("*a"))
			end)

			it("does not seek or truncate the file", function()
				s:store("h.com", "/", true, true, nil, "a", "1", {})
				local f = io.tmpfile()
				f:write("before\n")
				s:save_to_file(f)
				f:seek("set")
				assert.same("before\n# Netscape", f:read("*a"):sub(1, 17))
			end)

			it("passes along read and write errors", function()
				local bad = {
					read = function() return nil, "read failed", 5 end,
					write = function() return nil, "write failed", 28 end,
				}
				assert.same({nil, "read failed", 5}, {s:load_from_file(bad)})
				assert.same({nil, "write failed", 28}, {s:save_to_file(bad)})
				local name = os.tmpname()
				local ro = io.open(name, "r")
				local ok, err, errno = s:save_to_file(ro)
				ro:close()
				local wo = io.open(name, "w")
				local ok2, err2, errno2 = s:load_from_file(wo)
				wo:close()
				os.remove(name)
				assert.same(nil, ok)
				assert.same("string", type(err))
				assert.same("number", type(errno))
				assert.same(nil, ok2)
				assert.same("string", type(err2))
				assert.same("number", type(errno2))
			end)
		end)

		describe("arguments", function()
			it("need a store", function()
				errors_with("bad argument #1 to 'lookup' (cookie store expected, got table)", s.lookup, {}, "h.com", "/")
				errors_with("bad argument #1 to 'store' (cookie store expected, got nil)", s.store, nil, "h.com", "/",
					true, true, nil, "a", "b")
				errors_with("bad argument #1 to 'clean_due' (cookie store expected, got string)", s.clean_due, "x")
			end)
			it("need strings for domains, paths and names", function()
				errors_with("bad argument #2 to 'get' (string expected, got nil)", s.get, s, nil, "/", "x")
				errors_with("bad argument #2 to 'remove' (string expected, got nil)", s.remove, s)
				errors_with("bad argument #8 to 'store' (string expected, got nil)", s.store, s, "h.com", "/", true, true, nil, "a")
			end)
			it("need a numeric time", function()
				assert.truthy(s:store("h.com", "/", true, true, nil, "a", "b", {}))
				s.time = function() return "soon" end
				errors_with("store.time() returned string", s.lookup, s, "h.com", "/")
			end)
		end)
	end)
end)
