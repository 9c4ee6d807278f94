describe("http.hsts", function()
	local hsts = require "http.hsts"

	-- A store on a fake clock: advance it by changing `clock.now`.
	local clock
	local function new_store()
		local s = hsts.new_store()
		s.time = function() return clock.now end
		return s
	end
	before_each(function()
		clock = { now = 1000 }
	end)

	local function age(n, sub)
		return { ["max-age"] = n, includesubdomains = sub }
	end

	describe("new_store", function()
		it("returns an empty store with lua-http's defaults", function()
			local s = hsts.new_store()
			assert.same(math.huge, s.max_items)
			assert.same("function", type(s.time))
			assert.same(math.huge, s:clean_due())
			assert.is_false(s:check("example.com"))
		end)

		it("defaults time to the system clock in whole seconds, like os.time()", function()
			local t = hsts.new_store().time()
			assert.truthy(math.abs(t - os.time()) <= 1)
			assert.same(math.floor(t), t)
		end)

		it("returns independent stores", function()
			local a, b = new_store(), new_store()
			assert.is_true(a:store("example.com", age("100")))
			assert.is_false(b:check("example.com"))
		end)

		it("exposes store_methods, whose fields are every store's defaults", function()
			local saved = hsts.store_methods.time
			hsts.store_methods.time = function() return 5 end
			local ok, err = pcall(function()
				local s = hsts.new_store()
				assert.is_true(s:store("example.com", age("10")))
				assert.same(10, s:clean_due())
			end)
			hsts.store_methods.time = saved
			assert(ok, err)
			assert.same(getmetatable(hsts.new_store()), hsts.store_mt)
		end)
	end)

	describe("store and check", function()
		it("accepts max-age as a string of digits or as a whole number", function()
			local s = new_store()
			assert.is_true(s:store("a.example", age("100")))
			assert.is_true(s:store("b.example", age(100)))
			assert.is_true(s:store("c.example", age("0100")))
			assert.same(100, s:clean_due())
			assert.is_true(s:check("a.example"))
			assert.is_true(s:check("b.example"))
			assert.is_true(s:check("c.example"))
		end)

		it("accepts max-age values too large for an integer", function()
			local s = new_store()
			assert.is_true(s:store("example.com", age("99999999999999999999999")))
			clock.now = 1e22
			assert.is_true(s:check("example.com"))
		end)

		it("requires max-age", function()
			local s = new_store()
			local ok, err = s:store("example.com", {})
			assert.same({ nil, "max-age directive is required" }, { ok, err })
			assert.is_false(s:check("example.com"))
		end)

		it("rejects max-age values that are not delta-seconds", function()
			local s = new_store()
			for _, v in ipairs { "", "abc", "-1", "+1", "1.5", " 10", "10 ", "0x10", "1e3", '"10"',
				-1, 1.5, math.huge, 0 / 0, true, {} } do
				local ok, err = s:store("example.com", age(v))
				assert.is_nil(ok, tostring(v))
				assert.same("max-age directive does not match grammar", err)
			end
			assert.is_false(s:check("example.com"))
			assert.same(math.huge, s:clean_due())
		end)

		it("returns exactly one value on success", function()
			local s = new_store()
			assert.same(1, select("#", s:store("example.com", age("1"))))
		end)

		it("raises on missing arguments", function()
			local s = new_store()
			local ok, err = pcall(s.store, s, "example.com")
			assert.is_false(ok)
			assert.truthy(err:find("table expected", 1, true), err)
			ok, err = pcall(s.store, s, nil, age("1"))
			assert.is_false(ok)
			assert.truthy(err:find("string expected", 1, true), err)
			ok, err = pcall(s.check, s)
			assert.is_false(ok)
			ok, err = pcall(s.check, {}, "example.com")
			assert.is_false(ok)
			assert.truthy(err:find("hsts store expected", 1, true), err)
		end)

		it("ignores IPv4 and IPv6 literals", function()
			local s = new_store()
			for _, host in ipairs { "127.0.0.1", "192.168.1.254", "::1", "2001:db8::1", "[::1]",
				"[2001:db8::1]", "fe80::1%eth0", "::ffff:1.2.3.4" } do
				assert.is_false(s:store(host, age("100", true)), host)
				assert.is_false(s:check(host), host)
			end
			assert.same(math.huge, s:clean_due())
		end)

		it("treats almost-IPs as names", function()
			local s = new_store()
			assert.is_true(s:store("1.2.3.256", age("100")))
			assert.is_true(s:check("1.2.3.256"))
		end)

		it("ignores an empty host", function()
			local s = new_store()
			assert.is_false(s:store("", age("100")))
			assert.is_false(s:store(".", age("100")))
			assert.is_false(s:check(""))
		end)

		it("compares host names case-insensitively and ignores a trailing dot", function()
			local s = new_store()
			assert.is_true(s:store("Example.COM.", age("100")))
			assert.is_true(s:check("example.com"))
			assert.is_true(s:check("EXAMPLE.com"))
			assert.is_true(s:check("example.com."))
			assert.is_false(s:check("example.com.."))
			assert.is_false(s:check("example.org"))
		end)

		it("does not match subdomains without includeSubDomains", function()
			local s = new_store()
			assert.is_true(s:store("example.com", age("100")))
			assert.is_false(s:check("www.example.com"))
			assert.is_false(s:check("com"))
		end)

		it("matches every subdomain with includeSubDomains", function()
			local s = new_store()
			assert.is_true(s:store("example.com", age("100", true)))
			assert.is_true(s:check("example.com"))
			assert.is_true(s:check("www.example.com"))
			assert.is_true(s:check("A.B.Example.Com."))
			assert.is_false(s:check("xexample.com"))
			assert.is_false(s:check("example.com.evil"))
			assert.is_false(s:check("com"))
		end)

		it("takes any true value of includesubdomains; false means absent", function()
			local s = new_store()
			s:store("a.example", age("100", "yes"))
			s:store("b.example", age("100", false))
			assert.is_true(s:check("www.a.example"))
			assert.is_false(s:check("www.b.example"))
		end)

		it("replaces an entry's directives on update", function()
			local s = new_store()
			s:store("example.com", age("100", true))
			assert.is_true(s:store("example.com", age("50")))
			assert.is_false(s:check("www.example.com"))
			assert.is_true(s:check("example.com"))
			assert.same(50, s:clean_due())
		end)

		it("does not let a subdomain entry without includeSubDomains cover its subdomains", function()
			local s = new_store()
			s:store("example.com", age("10", true))
			s:store("a.example.com", age("100"))
			assert.is_true(s:check("b.a.example.com"))
			clock.now = 1050
			assert.is_true(s:check("a.example.com"))
			assert.is_false(s:check("b.a.example.com"))
			assert.is_false(s:check("example.com"))
		end)

		it("removes the entry when max-age is 0", function()
			local s = new_store()
			s:store("example.com", age("100", true))
			assert.is_true(s:store("EXAMPLE.com", age("0")))
			assert.is_false(s:check("example.com"))
			assert.same(math.huge, s:clean_due())
			assert.is_true(s:store("absent.example", age(0)))
			assert.is_true(s:store("absent.example", age("000")))
		end)

		it("counts an entry until the end of its expiry second", function()
			local s = new_store()
			s:store("example.com", age("100"))
			clock.now = 1100
			assert.is_true(s:check("example.com"))
			clock.now = 1100.5
			assert.is_false(s:check("example.com"))
		end)

		it("reads the time field on every call", function()
			local s = hsts.new_store()
			s.time = function() return 0 end
			s:store("example.com", age("10"))
			s.time = function() return 11 end
			assert.is_false(s:check("example.com"))
			s.time = function() return 10 end
			assert.is_true(s:check("example.com"))
		end)

		it("reports a time function that fails or returns no number", function()
			local s = new_store()
			s:store("example.com", age("10"))
			s.time = function() error("clock broke") end
			local ok, err = pcall(s.check, s, "example.com")
			assert.is_false(ok)
			assert.truthy(tostring(err):find("clock broke", 1, true))
			s.time = function() return "soon" end
			assert.is_false(pcall(s.check, s, "example.com"))
			s.time = function() return 0 / 0 end
			assert.is_false(pcall(s.check, s, "example.com"))
		end)

		it("accepts non-ASCII host names as bytes", function()
			local s = new_store()
			assert.is_true(s:store("\255\254.example", age("10", true)))
			assert.is_true(s:check("x.\255\254.example"))
		end)
	end)

	describe("max_items", function()
		it("refuses new hosts once the store is full", function()
			local s = new_store()
			s.max_items = 2
			assert.is_true(s:store("a.example", age("10")))
			assert.is_true(s:store("b.example", age("20")))
			assert.is_false(s:store("c.example", age("30")))
			assert.is_false(s:check("c.example"))
		end)

		it("still updates and removes existing hosts when full", function()
			local s = new_store()
			s.max_items = 1
			s:store("a.example", age("10"))
			assert.is_true(s:store("a.example", age("50")))
			assert.same(50, s:clean_due())
			assert.is_true(s:store("a.example", age("0")))
			assert.is_true(s:store("b.example", age("10")))
		end)

		it("only prevents new items when decreased", function()
			local s = new_store()
			s:store("a.example", age("10"))
			s:store("b.example", age("20"))
			s.max_items = 1
			assert.is_true(s:check("a.example"))
			assert.is_true(s:check("b.example"))
			assert.is_false(s:store("c.example", age("30")))
			s:remove("a.example")
			assert.is_false(s:store("c.example", age("30")))
			s:remove("b.example")
			assert.is_true(s:store("c.example", age("30")))
		end)

		it("makes room by dropping expired entries", function()
			local s = new_store()
			s.max_items = 1
			s:store("a.example", age("10"))
			clock.now = 1011
			assert.is_true(s:store("b.example", age("10")))
			assert.is_false(s:check("a.example"))
		end)

		it("0 disables the store", function()
			local s = new_store()
			s.max_items = 0
			assert.is_false(s:store("a.example", age("10")))
		end)
	end)

	describe("remove", function()
		it("removes a host, case-insensitively, and only that host", function()
			local s = new_store()
			s:store("example.com", age("10", true))
			s:store("www.example.com", age("10"))
			assert.is_true(s:remove("EXAMPLE.COM."))
			assert.is_false(s:check("example.com"))
			assert.is_false(s:check("a.example.com"))
			assert.is_true(s:check("www.example.com"))
		end)

		it("ignores unknown hosts and IP literals", function()
			local s = new_store()
			assert.is_true(s:remove("nothing.example"))
			assert.is_true(s:remove("127.0.0.1"))
		end)
	end)

	describe("clean and clean_due", function()
		it("gives the seconds until the next expiry", function()
			local s = new_store()
			s:store("a.example", age("300"))
			s:store("b.example", age("100"))
			s:store("c.example", age("200"))
			assert.same(100, s:clean_due())
			clock.now = 1040
			assert.same(60, s:clean_due())
			s:remove("b.example")
			assert.same(160, s:clean_due())
		end)

		it("gives 0 when an entry already expired", function()
			local s = new_store()
			s:store("a.example", age("10"))
			clock.now = 2000
			assert.same(0, s:clean_due())
		end)

		it("gives fractions with a fractional clock", function()
			local s = new_store()
			clock.now = 1000.5
			s:store("a.example", age("10"))
			clock.now = 1001
			assert.same(9.5, s:clean_due())
		end)

		it("removes expired entries only", function()
			local s = new_store()
			s:store("a.example", age("10"))
			s:store("b.example", age("20"))
			s:store("c.example", age("30"))
			clock.now = 1020
			assert.is_true(s:clean())
			assert.same(0, s:clean_due())
			clock.now = 1021
			assert.is_true(s:clean())
			assert.same(9, s:clean_due())
			clock.now = 1000
			assert.is_false(s:check("a.example"))
			assert.is_false(s:check("b.example"))
			assert.is_true(s:check("c.example"))
			clock.now = 2000
			s:clean()
			assert.same(math.huge, s:clean_due())
		end)

		it("frees room for max_items", function()
			local s = new_store()
			s.max_items = 1
			s:store("a.example", age("10"))
			clock.now = 1011
			s:clean()
			clock.now = 1000
			assert.is_true(s:store("b.example", age("10")))
		end)
	end)

	describe("clone", function()
		it("copies entries, settings and the clock", function()
			local s = new_store()
			s.max_items = 2
			s:store("example.com", age("100", true))
			local c = s:clone()
			assert.same(getmetatable(s), getmetatable(c))
			assert.same(2, c.max_items)
			assert.same(s.time, c.time)
			assert.is_true(c:check("www.example.com"))
			assert.same(100, c:clean_due())
		end)

		it("is independent of the original", function()
			local s = new_store()
			s:store("a.example", age("100"))
			local c = s:clone()
			c:store("b.example", age("10"))
			c:remove("a.example")
			c.max_items = 0
			assert.is_true(s:check("a.example"))
			assert.is_false(s:check("b.example"))
			assert.is_false(c:check("a.example"))
			assert.is_true(c:check("b.example"))
			assert.same(math.huge, s.max_items)
			assert.is_true(s:store("c.example", age("10")))
			assert.is_false(c:check("c.example"))
		end)
	end)
end)
