describe("http.headers", function()
	local http_headers = require "http.headers"
	local new = http_headers.new

	-- every field as {name, value, never_index}
	local function fields(h)
		local t = {}
		for name, value, never_index in h:each() do
			t[#t + 1] = { name, value, never_index }
		end
		return t
	end

	local function pack(...)
		return { n = select("#", ...), ... }
	end

	local function errors_with(text, f, ...)
		local ok, err = pcall(f, ...)
		assert.is_false(ok)
		assert.is_string(err)
		assert.truthy(string.find(err, text, 1, true), "unexpected error: " .. tostring(err))
	end

	local function from(list)
		local h = new()
		for _, f in ipairs(list) do
			h:append(f[1], f[2], f[3])
		end
		return h
	end

	it("the each() example of the manual", function()
		local myheaders = new()
		myheaders:append(":status", "200")
		myheaders:append("set-cookie", "foo=bar")
		myheaders:append("connection", "close")
		myheaders:append("set-cookie", "baz=qux")
		assert.same({
			{ ":status", "200", false },
			{ "set-cookie", "foo=bar", true },
			{ "connection", "close", false },
			{ "set-cookie", "baz=qux", true },
		}, fields(myheaders))
	end)

	it("the get_as_sequence() example of the manual", function()
		local myheaders = new()
		myheaders:append(":status", "200")
		myheaders:append("set-cookie", "foo=bar")
		myheaders:append("connection", "close")
		myheaders:append("set-cookie", "baz=qux")
		local mysequence = myheaders:get_as_sequence("set-cookie")
		assert.same({ n = 2; "foo=bar"; "baz=qux" }, mysequence)
	end)

	describe("new", function()
		it("makes an empty object", function()
			local h = new()
			assert.equal(0, h:len())
			assert.same({}, fields(h))
			assert.is_nil(h:geti(1))
		end)
		it("makes independent objects", function()
			local a, b = new(), new()
			a:append("x", "1")
			assert.equal(1, a:len())
			assert.equal(0, b:len())
		end)
		it("has lua-http's tostring", function()
			local h = new()
			h:append("a", "b")
			h:append("c", "d")
			assert.equal("http.headers{2 headers}", tostring(h))
		end)
		it("exposes methods and mt like lua-http", function()
			local h = new()
			assert.equal(http_headers.mt, getmetatable(h))
			assert.equal(http_headers.methods, getmetatable(h).__index)
			http_headers.methods.spec_extra = function(self) return self:len() + 100 end
			assert.equal(100, h:spec_extra())
			http_headers.methods.spec_extra = nil
		end)
	end)

	describe("append", function()
		it("defaults never_index to true for credential fields only", function()
			local h = new()
			for _, name in ipairs { "authorization", "proxy-authorization", "cookie", "set-cookie",
				"Cookie", "content-type", ":authority", "x-authorization" } do
				h:append(name, "v")
			end
			assert.same({ true, true, true, true, false, false, false, false },
				{ select(3, h:geti(1)), select(3, h:geti(2)), select(3, h:geti(3)), select(3, h:geti(4)),
				select(3, h:geti(5)), select(3, h:geti(6)), select(3, h:geti(7)), select(3, h:geti(8)) })
		end)
		it("takes an explicit never_index, nil meaning the default", function()
			local h = new()
			h:append("cookie", "a", false)
			h:append("x-secret", "b", true)
			h:append("cookie", "c", nil)
			h:append("x", "d", nil)
			assert.same({ { "cookie", "a", false }, { "x-secret", "b", true }, { "cookie", "c", true },
				{ "x", "d", false } }, fields(h))
		end)
		it("stores never_index as a boolean", function()
			local h = new()
			h:append("x", "1", "yes")
			h:append("y", "2", 0)
			assert.equal(true, select(3, h:geti(1)))
			assert.equal(true, select(3, h:geti(2)))
		end)
		it("returns nothing and keeps duplicates in order", function()
			local h = new()
			assert.equal(0, select("#", h:append("a", "1")))
			h:append("b", "2")
			h:append("a", "3")
			assert.same({ { "a", "1", false }, { "b", "2", false }, { "a", "3", false } }, fields(h))
			assert.equal(3, h:len())
		end)
		it("does not validate or normalise", function()
			local h = new()
			h:append("Content-Type", " text/html \r\n")
			h:append("", "")
			assert.same({ { "Content-Type", " text/html \r\n", false }, { "", "", false } }, fields(h))
			assert.same(pack(), pack(h:get("content-type")))
		end)
		it("takes numbers as strings", function()
			local h = new()
			h:append("content-length", 42)
			h:append(7, "seven")
			assert.equal("42", h:get("content-length"))
			assert.equal("seven", h:get("7"))
			assert.equal("seven", h:get(7))
		end)
		it("needs a name and a value", function()
			local h = new()
			errors_with("string expected", function() h:append(nil, "v") end)
			errors_with("string expected", function() h:append("n") end)
			errors_with("string expected", function() h:append("n", {}) end)
			assert.equal(0, h:len())
		end)
	end)

	describe("len", function()
		it("counts fields", function()
			local h = from { { "a", "1" }, { "a", "2" }, { "b", "3" } }
			assert.equal(3, h:len())
			h:delete("a")
			assert.equal(1, h:len())
		end)
		it("is an integer on 5.3+", function()
			if math.type then
				assert.equal("integer", math.type(from({ { "a", "1" } }):len()))
			end
		end)
		local has_len = _VERSION ~= "Lua 5.1" -- LuaJIT too reports 5.1
		;(has_len and it or pending)("is #h on Lua 5.2+", function()
			local h = from { { "a", "1" }, { "b", "2" } }
			assert.equal(2, #h)
			assert.equal(0, #new())
		end)
	end)

	describe("each", function()
		it("returns an iterator and the object", function()
			local h = new()
			local r = pack(h:each())
			assert.equal(2, r.n)
			assert.is_function(r[1])
			assert.equal(h, r[2])
		end)
		it("walks nothing on an empty object", function()
			for _ in new():each() do
				error("a field in an empty object")
			end
		end)
		it("iterators are independent", function()
			local h = from { { "a", "1" }, { "b", "2" } }
			local i1, i2 = h:each(), h:each()
			assert.equal("a", (i1(h)))
			assert.equal("a", (i2(h)))
			assert.equal("b", (i1(h)))
			assert.is_nil((i1(h)))
			assert.equal("b", (i2(h)))
		end)
		it("walks the live list by position", function()
			local h = from { { "a", "1" }, { "b", "2" }, { "a", "3" }, { "c", "4" } }
			local seen = {}
			for name, value in h:each() do
				seen[#seen + 1] = name .. value
				if name == "a" then h:delete("a") end
			end
			-- as lua-http: deleting shifts the rest under the iterator
			assert.same({ "a1", "c4" }, seen)
			local g = from { { "a", "1" } }
			seen = {}
			for name in g:each() do
				seen[#seen + 1] = name
				if #seen < 3 then g:append("z", "") end
			end
			assert.same({ "a", "z", "z" }, seen)
		end)
		local has_pairs = _VERSION ~= "Lua 5.1"
		;(has_pairs and it or pending)("is pairs(h) on Lua 5.2+", function()
			local h = from { { "a", "1" }, { "cookie", "2" } }
			local t = {}
			for name, value, never_index in pairs(h) do
				t[#t + 1] = { name, value, never_index }
			end
			assert.same({ { "a", "1", false }, { "cookie", "2", true } }, t)
		end)
	end)

	describe("geti", function()
		local h = from { { ":method", "GET" }, { "cookie", "a=b" }, { "x", "y", true } }
		it("returns the i-th field", function()
			assert.same(pack(":method", "GET", false), pack(h:geti(1)))
			assert.same(pack("cookie", "a=b", true), pack(h:geti(2)))
			assert.same(pack("x", "y", true), pack(h:geti(3)))
			assert.same(pack("cookie", "a=b", true), pack(h:geti(2.0)))
		end)
		it("returns a single nil out of range or for a non-index", function()
			for _, i in ipairs { 0, 4, 100, -1, 1.5, 0 / 0, math.huge, "1", true } do
				assert.same(pack(nil), pack(h:geti(i)))
			end
			assert.same(pack(nil), pack(h:geti()))
		end)
	end)

	describe("get", function()
		local h = from { { "set-cookie", "a" }, { "x", "1" }, { "set-cookie", "b" }, { "set-cookie", "c" } }
		it("returns every value in order", function()
			assert.same(pack("a", "b", "c"), pack(h:get("set-cookie")))
			assert.same(pack("1"), pack(h:get("x")))
		end)
		it("returns nothing for a missing name", function()
			assert.same(pack(), pack(h:get("missing")))
			assert.same(pack(), pack(h:get("Set-Cookie")))
			assert.same(pack(), pack(h:get(nil)))
			assert.same(pack(), pack(h:get({})))
		end)
		it("returns more values than Lua's minimum stack", function()
			local m = new()
			local want = {}
			for i = 1, 300 do
				m:append("v", tostring(i))
				want[i] = tostring(i)
			end
			local got = pack(m:get("v"))
			assert.equal(300, got.n)
			got.n = nil
			assert.same(want, got)
		end)
	end)

	describe("get_as_sequence", function()
		local h = from { { "a", "1" }, { "b", "2" }, { "a", "3" } }
		it("returns a table with .n", function()
			assert.same({ n = 2, "1", "3" }, h:get_as_sequence("a"))
			assert.same({ n = 1, "2" }, h:get_as_sequence("b"))
		end)
		it("returns an empty sequence for a missing name", function()
			assert.same({ n = 0 }, h:get_as_sequence("c"))
			assert.same({ n = 0 }, h:get_as_sequence(nil))
		end)
		it("returns a fresh table each time", function()
			assert.are_not.equal(h:get_as_sequence("a"), h:get_as_sequence("a"))
		end)
	end)

	describe("get_comma_separated", function()
		local h = from { { "accept", "text/html" }, { "x", "1" }, { "accept", "*/*" }, { "e", "" }, { "e", "" } }
		it("joins values with a bare comma", function()
			assert.equal("text/html,*/*", h:get_comma_separated("accept"))
			assert.equal("1", h:get_comma_separated("x"))
			assert.equal(",", h:get_comma_separated("e"))
		end)
		it("returns nil for a missing name", function()
			assert.same(pack(nil), pack(h:get_comma_separated("missing")))
			assert.same(pack(nil), pack(h:get_comma_separated(nil)))
		end)
		it("joins many values", function()
			local m = new()
			local want = {}
			for i = 1, 100 do
				m:append("v", tostring(i))
				want[i] = tostring(i)
			end
			assert.equal(table.concat(want, ","), m:get_comma_separated("v"))
		end)
	end)

	describe("has", function()
		it("tells whether a name is present", function()
			local h = from { { "a", "1" }, { "B", "2" } }
			assert.is_true(h:has("a"))
			assert.is_true(h:has("B"))
			assert.is_false(h:has("b"))
			assert.is_false(h:has("A"))
			assert.is_false(h:has(nil))
		end)
	end)

	describe("delete", function()
		it("removes every occurrence and keeps the order of the rest", function()
			local h = from { { "a", "1" }, { "b", "2" }, { "a", "3" }, { "c", "4", true }, { "a", "5" } }
			assert.is_true(h:delete("a"))
			assert.same({ { "b", "2", false }, { "c", "4", true } }, fields(h))
			assert.is_false(h:has("a"))
		end)
		it("returns false when there was nothing to delete", function()
			local h = from { { "A", "1" } }
			assert.is_false(h:delete("a"))
			assert.is_false(h:delete(nil))
			assert.equal(1, h:len())
		end)
		it("keeps the rest intact through heavy churn", function()
			local h = new()
			local big = string.rep("v", 200)
			for i = 1, 2000 do
				h:append(i % 2 == 0 and "even" or "odd", big .. i)
			end
			for round = 1, 3 do
				h:delete("even")
				for i = 1, 1000 do
					h:append("even", "e" .. round .. "-" .. i)
				end
			end
			local odd = h:get_as_sequence("odd")
			assert.equal(1000, odd.n)
			assert.equal(big .. "1", odd[1])
			assert.equal(big .. "1999", odd[1000])
			local even = h:get_as_sequence("even")
			assert.equal(1000, even.n)
			assert.equal("e3-1", even[1])
			assert.equal("e3-1000", even[1000])
		end)
	end)

	describe("modifyi", function()
		it("changes value and never_index of the i-th field", function()
			local h = from { { "a", "1" }, { "b", "2" } }
			assert.equal(0, select("#", h:modifyi(2, "22", true)))
			assert.same({ { "a", "1", false }, { "b", "22", true } }, fields(h))
			h:modifyi(2, "a much longer value than before")
			h:modifyi(1, "")
			assert.same({ { "a", "", false }, { "b", "a much longer value than before", false } }, fields(h))
		end)
		it("resets never_index to the name's default when nil", function()
			local h = from { { "cookie", "1", false }, { "x", "2", true } }
			h:modifyi(1, "one")
			h:modifyi(2, "two")
			assert.same({ { "cookie", "one", true }, { "x", "two", false } }, fields(h))
			h:modifyi(1, "uno", false)
			assert.same({ "cookie", "uno", false }, { h:geti(1) })
		end)
		it("rejects an invalid index", function()
			local h = from { { "a", "1" } }
			for _, i in ipairs { 0, 2, -1, 1.5, "1" } do
				errors_with("invalid index", function() h:modifyi(i, "x") end)
			end
			errors_with("invalid index", function() h:modifyi(nil, "x") end)
			assert.same({ { "a", "1", false } }, fields(h))
		end)
		it("needs a value", function()
			local h = from { { "a", "1" } }
			errors_with("string expected", function() h:modifyi(1) end)
		end)
	end)

	describe("upsert", function()
		it("replaces the value of a single field in place", function()
			local h = from { { "a", "1" }, { "b", "2" }, { "c", "3" } }
			assert.equal(0, select("#", h:upsert("b", "two")))
			assert.same({ { "a", "1", false }, { "b", "two", false }, { "c", "3", false } }, fields(h))
		end)
		it("appends a missing field", function()
			local h = from { { "a", "1" } }
			h:upsert("set-cookie", "x")
			assert.same({ { "a", "1", false }, { "set-cookie", "x", true } }, fields(h))
		end)
		it("resets never_index to the name's default when nil", function()
			local h = from { { "cookie", "1", false }, { "x", "2", true } }
			h:upsert("cookie", "one")
			h:upsert("x", "two")
			h:upsert("authorization", "three", false)
			assert.same({ { "cookie", "one", true }, { "x", "two", false }, { "authorization", "three", false } },
				fields(h))
		end)
		it("refuses a multi-valued name", function()
			local h = from { { "a", "1" }, { "b", "2" }, { "a", "3" } }
			errors_with("Cannot upsert multi-valued field", function() h:upsert("a", "x") end)
			assert.same({ { "a", "1", false }, { "b", "2", false }, { "a", "3", false } }, fields(h))
		end)
		it("needs a name and a value", function()
			local h = new()
			errors_with("string expected", function() h:upsert(nil, "v") end)
			errors_with("string expected", function() h:upsert("n") end)
		end)
	end)

	describe("sort", function()
		it("puts pseudo-headers first, then orders by name, value and never_index", function()
			local h = from {
				{ "b", "2" }, { ":path", "/" }, { "a", "z" }, { ":method", "GET" }, { "a", "a", false },
				{ "a", "a", true }, { "A", "x" }, { "::x", "1" }, { ":", "1" }, { "0", "1" }, { "~", "" },
			}
			assert.equal(0, select("#", h:sort()))
			assert.same({
				{ ":", "1", false }, { "::x", "1", false }, { ":method", "GET", false }, { ":path", "/", false },
				{ "0", "1", false }, { "A", "x", false }, { "a", "a", true }, { "a", "a", false },
				{ "a", "z", false }, { "b", "2", false }, { "~", "", false },
			}, fields(h))
		end)
		it("compares bytes", function()
			local h = from { { "x", "\255" }, { "x", "\0" }, { "x", "a" }, { "x", "" }, { "x", "a\0" } }
			h:sort()
			assert.same({ "", "\0", "a", "a\0", "\255" }, { h:get("x") })
		end)
	end)

	describe("clone", function()
		it("copies every field", function()
			local h = from { { ":status", "200" }, { "set-cookie", "a", false }, { "x", "1", true } }
			assert.same(fields(h), fields(h:clone()))
		end)
		it("is independent of the original", function()
			local h = from { { "a", "1" }, { "b", "2" } }
			local c = h:clone()
			c:append("c", "3")
			c:modifyi(1, "one")
			h:delete("b")
			assert.same({ { "a", "1", false } }, fields(h))
			assert.same({ { "a", "one", false }, { "b", "2", false }, { "c", "3", false } }, fields(c))
			assert.are_not.equal(h, c)
			assert.equal(http_headers.mt, getmetatable(c))
		end)
	end)

	describe("dump", function()
		local function dumped(h, ...)
			local f = io.tmpfile()
			h:dump(f, ...)
			f:seek("set")
			local s = f:read("*a")
			f:close()
			return s
		end
		local h = from { { ":status", "200" }, { "set-cookie", "a=b" }, { "x", "multi\nline" } }
		it("writes one line per field with the prefix", function()
			assert.equal("> :status: 200\n> set-cookie: a=b\n> x: multi\nline\n", dumped(h, "> "))
		end)
		it("has no prefix by default", function()
			assert.equal(":status: 200\nset-cookie: a=b\nx: multi\nline\n", dumped(h))
		end)
		it("writes to io.stderr by default", function()
			local stderr = io.stderr
			local f = io.tmpfile()
			io.stderr = f
			local ok, err = pcall(h.dump, h, nil, "P")
			io.stderr = stderr
			assert(ok, err)
			f:seek("set")
			assert.equal("P:status: 200\nPset-cookie: a=b\nPx: multi\nline\n", f:read("*a"))
			f:close()
		end)
		it("writes nothing for no fields", function()
			assert.equal("", dumped(new(), "P"))
		end)
		it("raises when the file cannot be written", function()
			local f = io.tmpfile()
			f:close()
			assert.is_false((pcall(h.dump, h, f)))
			local failing = { write = function() return nil, "disk full" end }
			errors_with("disk full", h.dump, h, failing)
		end)
	end)

	describe("bytes", function()
		local name, value = "x-\0\255\128", "\255\254\0v\0"
		it("keep non-UTF-8 names and values intact", function()
			local h = new()
			h:append(name, value)
			h:append("plain", "\192\128")
			assert.same(pack(name, value, false), pack(h:geti(1)))
			assert.equal(value, h:get(name))
			assert.same({ n = 1, value }, h:get_as_sequence(name))
			assert.equal("\192\128", h:get_comma_separated("plain"))
			assert.is_true(h:has(name))
			assert.is_false(h:has("x-"))
			h:upsert(name, "\0")
			assert.equal("\0", h:get(name))
			h:append(name, "\1")
			assert.equal("\0,\1", h:get_comma_separated(name))
		end)
		it("survive dump", function()
			local h = new()
			h:append(name, value)
			local f = io.tmpfile()
			h:dump(f, "\0")
			f:seek("set")
			assert.equal("\0" .. name .. ": " .. value .. "\n", f:read("*a"))
			f:close()
		end)
	end)

	describe("methods on a wrong object", function()
		local h = new()
		for _, method in ipairs { "len", "clone", "each", "geti", "get", "get_as_sequence",
			"get_comma_separated", "has", "delete", "sort" } do
			it(method .. " rejects a non-headers self", function()
				errors_with("http.headers expected", h[method], nil, "x")
				errors_with("http.headers expected", h[method], {}, "x")
				errors_with("http.headers expected", h[method], io.stdout, "x")
			end)
		end
		it("append, modifyi, upsert reject a non-headers self", function()
			errors_with("http.headers expected", h.append, "x", "a", "b")
			errors_with("http.headers expected", h.modifyi, setmetatable({}, http_headers.mt), 1, "b")
			errors_with("http.headers expected", h.upsert, {}, "a", "b")
		end)
	end)

	it("survives garbage collection of many objects", function()
		local keep = new()
		for i = 1, 2000 do
			local h = new()
			h:append("n", tostring(i))
			if i % 100 == 0 then keep = h:clone() end
		end
		collectgarbage()
		collectgarbage()
		assert.equal("2000", keep:get("n"))
	end)
end)
