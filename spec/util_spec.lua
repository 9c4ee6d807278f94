describe("http.util", function()
	local util = require "http.util"

	-- on 5.3+ numbers that lua-http gives as integers must be integers
	local function is_integer(n)
		if math.type then return math.type(n) == "integer" end
		return type(n) == "number" and n % 1 == 0
	end

	local function all_bytes()
		local t = {}
		for i = 0, 255 do t[i + 1] = string.char(i) end
		return table.concat(t)
	end

	-- the bytes of all_bytes() that `f` leaves unescaped
	local function kept_by(f)
		return (f(all_bytes()):gsub("%%%x%x", ""))
	end

	local function pairs_of(str)
		local out = {}
		for name, value in util.query_args(str) do
			out[#out + 1] = { name, value }
		end
		return out
	end

	describe("encodeURI / encodeURIComponent", function()
		it("leave exactly JavaScript's characters alone", function()
			local alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			local function sorted(s)
				local t = {}
				for c in s:gmatch(".") do t[#t + 1] = c end
				table.sort(t)
				return table.concat(t)
			end
			assert.same(sorted(alnum .. "-_.!~*'()" .. ";,/?:@&=+$#"), kept_by(util.encodeURI))
			assert.same(sorted(alnum .. "-_.!~*'()"), kept_by(util.encodeURIComponent))
		end)
		it("escape with upper-case hex, byte by byte (non-UTF-8 too)", function()
			assert.same("a%20b%25%FF%00", util.encodeURI("a b%\255\0"))
			assert.same("%C3%A9", util.encodeURIComponent("é"))
			assert.same("http://x/a%20b?c=d&e#f", util.encodeURI("http://x/a b?c=d&e#f"))
			assert.same("http%3A%2F%2Fx%2Fa%20b%3Fc%3Dd%26e%23f", util.encodeURIComponent("http://x/a b?c=d&e#f"))
			assert.same("", util.encodeURIComponent(""))
		end)
		it("reject non-strings", function()
			local ok, err = pcall(util.encodeURI)
			assert.falsy(ok)
			assert.truthy(err:find("string expected", 1, true))
			assert.has_error(function() util.encodeURIComponent({}) end)
		end)
	end)

	describe("decodeURI / decodeURIComponent", function()
		it("round-trip every byte", function()
			local s = all_bytes()
			assert.same(s, util.decodeURIComponent(util.encodeURIComponent(s)))
			assert.same(s, util.decodeURI(util.encodeURI(s)))
			assert.same(s, util.decodeURIComponent((util.encodeURIComponent(s):gsub("%%%x%x", string.lower))))
		end)
		it("decodeURI keeps escapes of the characters encodeURI leaves alone", function()
			assert.same("%3B%2f%3F%3a%40%26%3D%2B%24%2C%23", util.decodeURI("%3B%2f%3F%3a%40%26%3D%2B%24%2C%23"))
			assert.same(";/?:@&=+$,#", util.decodeURIComponent("%3B%2f%3F%3a%40%26%3D%2B%24%2C%23"))
			assert.same("A%2F%3f%23%%2b ", util.decodeURI("%41%2F%3f%23%25%2b%20"))
			assert.same("Aa~-", util.decodeURI("%41%61%7e%2D"))
		end)
		it("leave invalid escapes and '+' as they are", function()
			for _, s in ipairs { "%zz", "%4", "%", "%%%", "a+b", "%g0" } do
				assert.same(s, util.decodeURI(s))
				assert.same(s, util.decodeURIComponent(s))
			end
			assert.same("%A", util.decodeURIComponent("%%41"))
			assert.same("b%zz", util.decodeURIComponent("%62%zz"))
		end)
		it("do not validate UTF-8", function()
			assert.same("\233", util.decodeURIComponent("%e9"))
			assert.same("\0", util.decodeURI("%00"))
			assert.same("é", util.decodeURI("%C3%A9"))
		end)
	end)

	describe("query_args", function()
		it("iterates the manual's example", function()
			assert.same({ { "foo", "bar" }, { "baz", "qux" } }, pairs_of("foo=bar&baz=qux"))
		end)
		it("decodes percent escapes in names and values, but not '+'", function()
			assert.same({ { "a", "b%zz" } }, pairs_of("%61=%62%zz"))
			assert.same({ { "a+b", "c+d" } }, pairs_of("a+b=c+d"))
			assert.same({ { "a", "++ " } }, pairs_of("a=%2B+%20"))
			assert.same({ { "a", "&" }, { "=", "x" } }, pairs_of("a=%26&%3D=x"))
			assert.same({ { "\255", "\0" } }, pairs_of("\255=\0"))
		end)
		it("handles empty pairs, missing '=' and extra '=' like lua-http", function()
			assert.same({}, pairs_of(""))
			assert.same({}, pairs_of("&&"))
			assert.same({}, pairs_of("=="))
			assert.same({ { "a", "1" }, { "b", "2" } }, pairs_of("&&a=1&&b=2&"))
			assert.same({ { "a", "" } }, pairs_of("a="))
			assert.same({ { "a", "b=c" } }, pairs_of("a=b=c"))
			assert.same({ { "a", "=b" } }, pairs_of("a==b"))
			assert.same({ { "b", "c" } }, pairs_of("=b=c"))
			assert.same({ { "a", "b;c=d" } }, pairs_of("a=b;c=d"))
			assert.same({ { "?a", "1" } }, pairs_of("?a=1"))
			-- no '=': the value is nil
			local n = 0
			for name, value in util.query_args("a&b=c") do
				n = n + 1
				if n == 1 then
					assert.same("a", name)
					assert.is_nil(value)
				else
					assert.same({ "b", "c" }, { name, value })
				end
			end
			assert.same(2, n)
		end)
		it("returns a stateful iterator that keeps returning nil", function()
			local f = util.query_args("a=b&c=d")
			assert.same({ "a", "b" }, { f() })
			assert.same({ "c", "d" }, { f() })
			assert.is_nil(f())
			assert.is_nil(f())
		end)
		it("rejects non-strings when called", function()
			assert.has_error(function() util.query_args(nil) end)
		end)
	end)

	describe("dict_to_query", function()
		it("gives the manual's example exactly", function()
			assert.same("baz=qux&foo=bar", util.dict_to_query({ foo = "bar"; baz = "qux" }))
		end)
		it("sorts keys bytewise and escapes both sides", function()
			assert.same("A=5&a=2&aa=4&b=1&c=3", util.dict_to_query({ b = "1", a = "2", c = "3", aa = "4", A = "5" }))
			assert.same("a%20b=c%26d%3De&%C3%A9=%2B%2F%3F", util.dict_to_query({ ["a b"] = "c&d=e", ["é"] = "+/?" }))
			assert.same("", util.dict_to_query({}))
		end)
		it("round-trips through query_args", function()
			local dict = { ["x y"] = "1&2", ["é"] = "=", z = "" }
			local back = {}
			for k, v in util.query_args(util.dict_to_query(dict)) do back[k] = v end
			assert.same(dict, back)
		end)
		it("rejects non-tables and non-string values", function()
			assert.has_error(function() util.dict_to_query(nil) end)
			local ok, err = pcall(util.dict_to_query, { a = true })
			assert.falsy(ok)
			assert.truthy(err:find("string keys and values expected", 1, true))
		end)
	end)

	describe("resolve_relative_path", function()
		it("follows the RFC 3986 section 5.4 examples (paths of base http://a/b/c/d;p?q)", function()
			local base = "/b/c/d;p?q"
			local cases = {
				g = "/b/c/g", ["./g"] = "/b/c/g", ["g/"] = "/b/c/g/", ["/g"] = "/g",
				["?y"] = "/b/c/d;p?y", ["g?y"] = "/b/c/g?y", ["#s"] = "/b/c/d;p?q#s",
				["g#s"] = "/b/c/g#s", ["g?y#s"] = "/b/c/g?y#s", [";x"] = "/b/c/;x",
				["g;x"] = "/b/c/g;x", ["g;x?y#s"] = "/b/c/g;x?y#s", [""] = "/b/c/d;p?q",
				["."] = "/b/c/", ["./"] = "/b/c/", [".."] = "/b/", ["../"] = "/b/",
				["../g"] = "/b/g", ["../.."] = "/", ["../../"] = "/", ["../../g"] = "/g",
				["../../../g"] = "/g", ["../../../../g"] = "/g", ["/./g"] = "/g",
				["/../g"] = "/g", ["g."] = "/b/c/g.", [".g"] = "/b/c/.g", ["g.."] = "/b/c/g..",
				["..g"] = "/b/c/..g", ["./../g"] = "/b/g", ["./g/."] = "/b/c/g/",
				["g/./h"] = "/b/c/g/h", ["g/../h"] = "/b/c/h", ["g;x=1/./y"] = "/b/c/g;x=1/y",
				["g;x=1/../y"] = "/b/c/y", ["g?y/./x"] = "/b/c/g?y/./x",
				["g?y/../x"] = "/b/c/g?y/../x", ["g#s/./x"] = "/b/c/g#s/./x",
				["g#s/../x"] = "/b/c/g#s/../x",
			}
			for rel, want in pairs(cases) do
				assert.same(want, util.resolve_relative_path(base, rel))
			end
		end)
		it("merges with the base's directory, ignoring the base's query", function()
			assert.same("/a/g", util.resolve_relative_path("/a/b?q=1", "g"))
			assert.same("/g", util.resolve_relative_path("/a?x=/y", "g"))
			assert.same("/a/d", util.resolve_relative_path("/a/./b/../c", "d"))
			assert.same("/g", util.resolve_relative_path("/", "g"))
			assert.same("g", util.resolve_relative_path("", "g"))
		end)
		it("rejects non-strings", function()
			assert.has_error(function() util.resolve_relative_path(nil, "a") end)
			assert.has_error(function() util.resolve_relative_path("/a", nil) end)
		end)
	end)

	describe("is_safe_method", function()
		it("is true for RFC 7231's safe methods only (case-sensitive)", function()
			for _, m in ipairs { "GET", "HEAD", "OPTIONS", "TRACE" } do
				assert.is_true(util.is_safe_method(m))
			end
			for _, m in ipairs { "POST", "PUT", "DELETE", "PATCH", "CONNECT", "get", "" } do
				assert.is_false(util.is_safe_method(m))
			end
			assert.is_false(util.is_safe_method(nil))
		end)
	end)

	describe("is_ip", function()
		it("accepts IPv4", function()
			for _, s in ipairs { "127.0.0.1", "0.0.0.0", "255.255.255.255", "01.2.3.04", "00.1.1.1", "100.1.1.1" } do
				assert.is_true(util.is_ip(s), s)
			end
		end)
		it("accepts IPv6, compressed, IPv4-suffixed and with a zone", function()
			for _, s in ipairs { "::", "::1", "1::", "fe80::1", "2001:db8::ff00:42:8329",
				"2001:0db8:0000:0000:0000:ff00:0042:8329", "::ffff:1.2.3.4", "::FFFF:192.168.0.1",
				"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4",
				"1:2:3:4:5::1.2.3.4", "fe80::1%eth0", "::1%1" } do
				assert.is_true(util.is_ip(s), s)
			end
		end)
		it("rejects garbage", function()
			for _, s in ipairs { "", "localhost", "256.0.0.1", "001.2.3.4", "1.2.3", "1.2.3.4.5",
				"1..1.1", " 1.2.3.4", "1.2.3.4 ", "0x7f.0.0.1", "1.2.3.4%eth0", "[::1]", ":::",
				"1::2::3", "::1:", ":1::", "12345::", "g::", "fe80::1%", "1:2:3:4:5:6:7",
				"1:2:3:4:5:6:7:8:9", "1::2:3:4:5:6:7:8", "1:2:3:4:5:6::1.2.3.4", "1.2.3.4::",
				"::1.2.3", "1::1.2.3.256", "::1.2.3.4:1", "1.2.3.4\0" } do
				assert.is_false(util.is_ip(s), s)
			end
		end)
	end)

	describe("scheme_to_port", function()
		it("maps the HTTP and WebSocket schemes to integer ports", function()
			assert.same({ http = 80, ws = 80, https = 443, wss = 443 }, util.scheme_to_port)
			assert.truthy(is_integer(util.scheme_to_port.https))
		end)
	end)

	describe("split_authority", function()
		it("gives the manual's examples (with the example's host)", function()
			local host, port = util.split_authority("localhost:8000", "http")
			assert.same({ "localhost", 8000 }, { host, port })
			assert.truthy(is_integer(port))
			assert.same({ "example.com", 443 }, { util.split_authority("example.com", "https") })
		end)
		it("unbrackets IPv6 literals", function()
			assert.same({ "::1", 80 }, { util.split_authority("[::1]:80", "http") })
			assert.same({ "::1", 443 }, { util.split_authority("[::1]", "https") })
			assert.same({ "::ffff:1.2.3.4", 8 }, { util.split_authority("[::ffff:1.2.3.4]:8", "http") })
			assert.same({ "[v1.x]", 80 }, { util.split_authority("[v1.x]:80", "http") })
		end)
		it("reads the port like lua-http", function()
			assert.same({ "example.com", 80 }, { util.split_authority("example.com:080", "http") })
			assert.same({ "host", 1 }, { util.split_authority("host:1 \t", "http") })
			assert.same({ "example.com", 0 }, { util.split_authority("example.com:0", "http") })
			assert.same({ "", 80 }, { util.split_authority(":80", "https") })
			-- not a port: all of it is the host
			assert.same({ "example.com:", 80 }, { util.split_authority("example.com:", "http") })
			assert.same({ "example.com:abc", 80 }, { util.split_authority("example.com:abc", "http") })
			assert.same({ "example.com:-1", 80 }, { util.split_authority("example.com:-1", "http") })
		end)
		it("returns nil and a message for unknown schemes and bad ports", function()
			assert.same({ nil, "unknown scheme" }, { util.split_authority("example.com", "ftp") })
			assert.same({ nil, "unknown scheme" }, { util.split_authority("[::1]") })
			assert.same({ "host", 81 }, { util.split_authority("host:81", "ftp") })
			assert.same({ nil, "invalid port" }, { util.split_authority("host:65536", "http") })
		end)
		it("uses ports added to scheme_to_port", function()
			util.scheme_to_port.gopher = 70
			assert.same({ "h", 70 }, { util.split_authority("h", "gopher") })
			assert.same("h", util.to_authority("h", 70, "gopher"))
			util.scheme_to_port.gopher = nil
		end)
		it("rejects non-strings", function()
			assert.has_error(function() util.split_authority(nil, "http") end)
		end)
	end)

	describe("to_authority", function()
		it("omits the scheme's default port", function()
			assert.same("localhost", util.to_authority("localhost", 80, "http"))
			assert.same("localhost", util.to_authority("localhost", 443, "wss"))
			assert.same("localhost:8080", util.to_authority("localhost", 8080, "http"))
			assert.same("localhost:80", util.to_authority("localhost", 80, "https"))
			assert.same("localhost:80", util.to_authority("localhost", 80, nil))
			assert.same("localhost:80", util.to_authority("localhost", 80, "ftp"))
			assert.same("localhost", util.to_authority("localhost", nil, "http"))
		end)
		it("brackets IPv6 addresses", function()
			assert.same("[::1]", util.to_authority("::1", 80, "http"))
			assert.same("[::1]:8080", util.to_authority("::1", 8080, "http"))
			assert.same("[::1]", util.to_authority("[::1]", 80, "http"))
			assert.same("1.2.3.4:81", util.to_authority("1.2.3.4", 81, "ws"))
		end)
		it("round-trips with split_authority", function()
			for _, a in ipairs { "example.com", "example.com:8443", "[::1]:8443", "[fe80::1]", "1.2.3.4:1" } do
				local host, port = util.split_authority(a, "https")
				assert.same(a, util.to_authority(host, port, "https"))
			end
		end)
		it("rejects a missing host and fractional ports", function()
			assert.has_error(function() util.to_authority(nil, 80, "http") end)
			local ok, err = pcall(util.to_authority, "h", 80.5, "http")
			assert.falsy(ok)
			assert.truthy(err:find("integer representation", 1, true))
		end)
	end)

	describe("imf_date", function()
		it("formats RFC 7231's IMF-fixdate", function()
			assert.same("Sun, 06 Nov 1994 08:49:37 GMT", util.imf_date(784111777))
			assert.same("Thu, 01 Jan 1970 00:00:00 GMT", util.imf_date(0))
			assert.same("Wed, 31 Dec 1969 23:59:59 GMT", util.imf_date(-1))
			assert.same("Tue, 29 Feb 2000 00:00:00 GMT", util.imf_date(951782400))
			assert.same("Sun, 09 Sep 2001 01:46:40 GMT", util.imf_date(1e9 + 0.7))
		end)
		it("defaults to now", function()
			local before = util.imf_date(os.time())
			local now = util.imf_date()
			assert.truthy(now:match("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$"))
			assert.truthy(now == before or now == util.imf_date(os.time()))
		end)
		it("rejects non-numbers and non-finite times", function()
			assert.has_error(function() util.imf_date("abc") end)
			assert.has_error(function() util.imf_date(1 / 0) end)
			assert.has_error(function() util.imf_date(0 / 0) end)
		end)
	end)

	describe("maybe_quote", function()
		it("returns tokens as they are", function()
			assert.same("foo", util.maybe_quote("foo"))
			assert.same("tok!#$%&'*+-.^_`|~", util.maybe_quote("tok!#$%&'*+-.^_`|~"))
		end)
		it("quotes what a quoted-string can hold", function()
			assert.same('""', util.maybe_quote(""))
			assert.same('"a b"', util.maybe_quote("a b"))
			assert.same('"a=b"', util.maybe_quote("a=b"))
			assert.same('"a\\"b"', util.maybe_quote('a"b'))
			assert.same('"a\\\\b"', util.maybe_quote("a\\b"))
			assert.same('"a\tb"', util.maybe_quote("a\tb"))
			assert.same('"\128\255"', util.maybe_quote("\128\255"))
		end)
		it("returns nil for control characters", function()
			for _, s in ipairs { "\1", "\127", "a\r\nb", "\0" } do
				assert.is_nil(util.maybe_quote(s))
			end
		end)
	end)
end)
