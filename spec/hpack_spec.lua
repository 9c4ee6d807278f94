describe("http.hpack", function()
	local hpack = require "http.hpack"
	local new_headers = require "http.headers".new
	local h2_error = require "http.h2_error"

	local function unhex(s)
		s = s:gsub("%s", "")
		return (s:gsub("..", function(h) return string.char(tonumber(h, 16)) end))
	end

	local function le32(n)
		local t = {}
		for i = 1, 4 do
			t[i] = string.char(n % 256)
			n = math.floor(n / 256)
		end
		return table.concat(t)
	end

	-- lua-http's compound key of a pair (string.pack("s4s4", name, value)).
	local function key(name, value)
		return le32(#name) .. name .. le32(#value) .. value
	end

	local function headers_of(list)
		local h = new_headers()
		-- never_index given explicitly: http.headers defaults it to true for some names
		for _, f in ipairs(list) do h:append(f[1], f[2], f[3] or false) end
		return h
	end

	local function fields(h)
		local t = {}
		for name, value, never_index in h:each() do
			t[#t + 1] = { name, value, never_index or nil }
		end
		return t
	end

	-- Decode a whole block; it must all be consumed.
	local function decode(ctx, block)
		local h, pos = ctx:decode_headers(block)
		assert.truthy(h, pos)
		assert.equal(#block + 1, pos)
		return fields(h)
	end

	local function encode(ctx, list)
		assert.is_true(ctx:encode_headers(headers_of(list)))
		local data = ctx:render_data()
		ctx:clear_data()
		return data
	end

	-- Each pair with add_header_indexed, as encode_headers does, but Huffman-coded.
	local function encode_huffman(ctx, list)
		for _, f in ipairs(list) do ctx:add_header_indexed(f[1], f[2], true) end
		local data = ctx:render_data()
		ctx:clear_data()
		return data
	end

	-- Expect a COMPRESSION_ERROR from decoding `block` (in a fresh context by default).
	local function decode_error(block, ctx)
		ctx = ctx or hpack.new(4096)
		local h, err = ctx:decode_headers(block)
		assert.is_nil(h)
		assert.truthy(h2_error.is(err))
		assert.equal("COMPRESSION_ERROR", err.name)
		assert.equal(0x9, err.code)
		assert.is_false(err.stream_error)
		return err.message
	end

	local function tablestring(rows, size)
		local t = {}
		for i, r in ipairs(rows) do
			t[i] = string.format("[%3d] (s = %3d) %s", i, r[1], r[2])
		end
		t[#t + 1] = string.format("      Table size: %3d", size)
		return table.concat(t, "\n")
	end

	describe("RFC 7541 Appendix C", function()
		it("C.2.1 literal header field with indexing", function()
			local block = unhex "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"
			local ctx = hpack.new(4096)
			assert.same({ { "custom-key", "custom-header" } }, decode(ctx, block))
			assert.equal(tablestring({ { 55, "custom-key: custom-header" } }, 55), ctx:dynamic_table_tostring())
			assert.equal(block, encode(hpack.new(4096), { { "custom-key", "custom-header" } }))
		end)
		it("C.2.2 literal header field without indexing", function()
			local ctx = hpack.new(4096)
			assert.same({ { ":path", "/sample/path" } }, decode(ctx, unhex "040c 2f73 616d 706c 652f 7061 7468"))
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
		end)
		it("C.2.3 literal header field never indexed", function()
			local block = unhex "1008 7061 7373 776f 7264 0673 6563 7265 74"
			local ctx = hpack.new(4096)
			assert.same({ { "password", "secret", true } }, decode(ctx, block))
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
			local enc = hpack.new(4096)
			assert.equal(block, encode(enc, { { "password", "secret", true } }))
			assert.equal(tablestring({}, 0), enc:dynamic_table_tostring())
		end)
		it("C.2.4 indexed header field", function()
			local ctx = hpack.new(4096)
			assert.same({ { ":method", "GET" } }, decode(ctx, unhex "82"))
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
			assert.equal(unhex "82", encode(ctx, { { ":method", "GET" } }))
		end)

		local requests = {
			{ { ":method", "GET" }, { ":scheme", "http" }, { ":path", "/" }, { ":authority", "www.example.com" } },
			{ { ":method", "GET" }, { ":scheme", "http" }, { ":path", "/" }, { ":authority", "www.example.com" },
				{ "cache-control", "no-cache" } },
			{ { ":method", "GET" }, { ":scheme", "https" }, { ":path", "/index.html" }, { ":authority", "www.example.com" },
				{ "custom-key", "custom-value" } },
		}
		local request_tables = {
			tablestring({ { 57, ":authority: www.example.com" } }, 57),
			tablestring({ { 53, "cache-control: no-cache" }, { 57, ":authority: www.example.com" } }, 110),
			tablestring({ { 54, "custom-key: custom-value" }, { 53, "cache-control: no-cache" },
				{ 57, ":authority: www.example.com" } }, 164),
		}
		local function check_requests(blocks, huffman)
			local enc, dec = hpack.new(4096), hpack.new(4096)
			for i, block in ipairs(blocks) do
				block = unhex(block)
				if huffman then
					assert.equal(block, encode_huffman(enc, requests[i]))
				else
					assert.equal(block, encode(enc, requests[i]))
				end
				assert.same(requests[i], decode(dec, block))
				assert.equal(request_tables[i], dec:dynamic_table_tostring())
				assert.equal(request_tables[i], enc:dynamic_table_tostring())
			end
		end

		it("C.3 requests without Huffman coding", function()
			check_requests({
				"8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
				"8286 84be 5808 6e6f 2d63 6163 6865",
				"8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
			}, false)
		end)
		it("C.4 requests with Huffman coding", function()
			check_requests({
				"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
				"8286 84be 5886 a8eb 1064 9cbf",
				"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
			}, true)
		end)

		local date1, date2 = "Mon, 21 Oct 2013 20:13:21 GMT", "Mon, 21 Oct 2013 20:13:22 GMT"
		local cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
		local responses = {
			{ { ":status", "302" }, { "cache-control", "private" }, { "date", date1 },
				{ "location", "https://www.example.com" } },
			{ { ":status", "307" }, { "cache-control", "private" }, { "date", date1 },
				{ "location", "https://www.example.com" } },
			{ { ":status", "200" }, { "cache-control", "private" }, { "date", date2 },
				{ "location", "https://www.example.com" }, { "content-encoding", "gzip" }, { "set-cookie", cookie } },
		}
		local response_tables = {
			tablestring({ { 63, "location: https://www.example.com" }, { 65, "date: " .. date1 },
				{ 52, "cache-control: private" }, { 42, ":status: 302" } }, 222),
			tablestring({ { 42, ":status: 307" }, { 63, "location: https://www.example.com" },
				{ 65, "date: " .. date1 }, { 52, "cache-control: private" } }, 222),
			-- long entries continue on an indented line, as in the RFC
			tablestring({ { 98, "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age\\\n                 =3600; version=1" },
				{ 52, "content-encoding: gzip" }, { 65, "date: " .. date2 } }, 215),
		}
		local function check_responses(blocks, huffman)
			local enc, dec = hpack.new(256), hpack.new(256)
			for i, block in ipairs(blocks) do
				block = unhex(block)
				if huffman then
					assert.equal(block, encode_huffman(enc, responses[i]))
				else
					assert.equal(block, encode(enc, responses[i]))
				end
				assert.same(responses[i], decode(dec, block))
				assert.equal(response_tables[i], dec:dynamic_table_tostring())
				assert.equal(response_tables[i], enc:dynamic_table_tostring())
			end
		end

		it("C.5 responses without Huffman coding", function()
			check_responses({
				[[4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
				2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
				6c65 2e63 6f6d]],
				"4803 3330 37c1 c0bf",
				[[88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
				54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
				5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
				3d31]],
			}, false)
		end)
		it("C.6 responses with Huffman coding", function()
			check_responses({
				[[4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
				2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3]],
				"4883 640e ffc1 c0bf",
				[[88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
				77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
				9587 3160 65c0 03ed 4ee5 b106 3d50 07]],
			}, true)
		end)
	end)

	describe("data buffer", function()
		it("collects, renders and clears", function()
			local ctx = hpack.new(4096)
			assert.equal("", ctx:render_data())
			assert.equal(ctx, ctx:append_data("ab"))
			assert.equal(ctx, ctx:append_data("\0\255"))
			assert.equal("ab\0\255", ctx:render_data())
			assert.is_true(ctx:clear_data())
			assert.equal("", ctx:render_data())
		end)
		it("encode_max_size appends a dynamic table size update", function()
			local ctx = hpack.new(4096)
			assert.is_true(ctx:encode_max_size(100))
			assert.is_true(ctx:encode_max_size(0))
			assert.equal("\63\69\32", ctx:render_data())
			-- it does not change the table
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
		end)
	end)

	describe("dynamic table", function()
		it("adds entries newest first with their sizes", function()
			local ctx = hpack.new(4096)
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
			assert.is_true(ctx:add_to_dynamic_table("custom-key", "custom-header", key("custom-key", "custom-header")))
			assert.is_true(ctx:add_to_dynamic_table("a", "b", key("a", "b")))
			assert.equal(tablestring({ { 34, "a: b" }, { 55, "custom-key: custom-header" } }, 89),
				ctx:dynamic_table_tostring())
			assert.same({ "a", "b" }, { ctx:lookup_index(62) })
			assert.same({ "custom-key", "custom-header" }, { ctx:lookup_index(63) })
		end)
		it("evicts the oldest entries to make room", function()
			local ctx = hpack.new(100)
			ctx:add_to_dynamic_table("a", "b", key("a", "b"))
			ctx:add_to_dynamic_table("c", "d", key("c", "d"))
			ctx:add_to_dynamic_table("e", "f", key("e", "f"))
			assert.equal(tablestring({ { 34, "e: f" }, { 34, "c: d" } }, 68), ctx:dynamic_table_tostring())
			-- an entry larger than the table empties it and is not added
			ctx:add_to_dynamic_table("big", ("x"):rep(70), key("big", ("x"):rep(70)))
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
			-- an entry of exactly the table size fits
			ctx:add_to_dynamic_table("x", ("y"):rep(67), key("x", ("y"):rep(67)))
			assert.equal(tablestring({ { 100, "x: " .. ("y"):rep(49) .. "\\\n                 " .. ("y"):rep(18) } }, 100),
				ctx:dynamic_table_tostring())
		end)
		it("evict_from_dynamic_table drops the oldest entry", function()
			local ctx = hpack.new(4096)
			ctx:add_to_dynamic_table("a", "b", key("a", "b"))
			ctx:add_to_dynamic_table("c", "d", key("c", "d"))
			assert.is_true(ctx:evict_from_dynamic_table())
			assert.equal(tablestring({ { 34, "c: d" } }, 34), ctx:dynamic_table_tostring())
			assert.is_true(ctx:evict_from_dynamic_table())
			assert.is_false(ctx:evict_from_dynamic_table())
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
		end)
		it("maps entry ids to indexes", function()
			local ctx = hpack.new(4096)
			assert.equal(62, ctx:dynamic_table_id_to_index(0))
			ctx:add_to_dynamic_table("a", "b", key("a", "b")) -- id 1
			ctx:add_to_dynamic_table("c", "d", key("c", "d")) -- id 2
			assert.equal(62, ctx:dynamic_table_id_to_index(2))
			assert.equal(63, ctx:dynamic_table_id_to_index(1))
			ctx:evict_from_dynamic_table()
			assert.equal(62, ctx:dynamic_table_id_to_index(2))
			ctx:add_to_dynamic_table("e", "f", key("e", "f")) -- id 3
			assert.equal(62, ctx:dynamic_table_id_to_index(3))
			assert.equal(63, ctx:dynamic_table_id_to_index(2))
		end)
		it("resize_dynamic_table evicts and respects the limit", function()
			local ctx = hpack.new(100)
			ctx:add_to_dynamic_table("a", "b", key("a", "b"))
			ctx:add_to_dynamic_table("c", "d", key("c", "d"))
			assert.is_true(ctx:resize_dynamic_table(50))
			assert.equal(tablestring({ { 34, "c: d" } }, 34), ctx:dynamic_table_tostring())
			assert.is_true(ctx:resize_dynamic_table(100))
			local ok, err = ctx:resize_dynamic_table(101)
			assert.is_nil(ok)
			assert.truthy(h2_error.is(err))
			assert.equal("COMPRESSION_ERROR", err.name)
			assert.is_true(ctx:resize_dynamic_table(0))
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
			assert.has_error(function() ctx:resize_dynamic_table(-1) end)
		end)
		it("set_max_dynamic_table_size sets the limit for size updates", function()
			local ctx = hpack.new(4096)
			ctx:add_to_dynamic_table("a", "b", key("a", "b"))
			assert.is_true(ctx:set_max_dynamic_table_size(10))
			-- the table itself is left alone until resized
			assert.equal(tablestring({ { 34, "a: b" } }, 34), ctx:dynamic_table_tostring())
			assert.is_nil((ctx:resize_dynamic_table(11)))
			assert.is_true(ctx:resize_dynamic_table(10))
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
			local dec = hpack.new(4096)
			dec:set_max_dynamic_table_size(100)
			assert.truthy(decode_error("\63\70", dec):find("MUST be lower than or equal to the limit", 1, true))
			assert.same({}, decode(dec, "\63\69"))
		end)
		it("starts empty with a zero size when no size is given, as lua-http", function()
			local ctx = hpack.new()
			ctx:add_header_indexed("a", "b")
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
			assert.has_error(function() hpack.new(-1) end)
		end)
	end)

	describe("lookups", function()
		local ctx = hpack.new(4096)
		ctx:add_to_dynamic_table("custom-key", "custom-header", key("custom-key", "custom-header"))
		ctx:add_to_dynamic_table("a", "b", key("a", "b"))

		it("lookup_pair_index finds pairs, static table first", function()
			assert.equal(2, ctx:lookup_pair_index(key(":method", "GET")))
			assert.equal(3, ctx:lookup_pair_index(key(":method", "POST")))
			assert.equal(14, ctx:lookup_pair_index(key(":status", "500")))
			assert.equal(16, ctx:lookup_pair_index(key("accept-encoding", "gzip, deflate")))
			assert.equal(62, ctx:lookup_pair_index(key("a", "b")))
			assert.equal(63, ctx:lookup_pair_index(key("custom-key", "custom-header")))
			assert.is_nil(ctx:lookup_pair_index(key(":method", "PUT")))
			assert.is_nil(ctx:lookup_pair_index(key("a", "c")))
			assert.is_nil(ctx:lookup_pair_index("not a key"))
		end)
		it("lookup_name_index finds names, static table first", function()
			assert.equal(1, ctx:lookup_name_index(":authority"))
			assert.equal(2, ctx:lookup_name_index(":method"))
			assert.equal(8, ctx:lookup_name_index(":status"))
			assert.equal(61, ctx:lookup_name_index("www-authenticate"))
			assert.equal(62, ctx:lookup_name_index("a"))
			assert.equal(63, ctx:lookup_name_index("custom-key"))
			assert.is_nil(ctx:lookup_name_index("zzz"))
			assert.is_nil(ctx:lookup_name_index("A"))
		end)
		it("lookup_index returns name and value", function()
			assert.same({ ":authority", "" }, { ctx:lookup_index(1) })
			assert.same({ ":method", "GET" }, { ctx:lookup_index(2) })
			assert.same({ "www-authenticate", "" }, { ctx:lookup_index(61) })
			assert.same({ "a", "b" }, { ctx:lookup_index(62) })
			assert.same({ "custom-key", "custom-header" }, { ctx:lookup_index(63) })
			assert.equal(0, select("#", ctx:lookup_index(64)))
			assert.equal(0, select("#", ctx:lookup_index(0)))
			assert.equal(0, select("#", ctx:lookup_index(-1)))
		end)
		it("finds the newest of duplicate entries, and survives their eviction", function()
			local c = hpack.new(4096)
			c:add_to_dynamic_table("a", "b", key("a", "b"))
			c:add_to_dynamic_table("a", "b", key("a", "b"))
			c:add_to_dynamic_table("a", "c", key("a", "c"))
			assert.equal(63, c:lookup_pair_index(key("a", "b")))
			assert.equal(62, c:lookup_name_index("a"))
			c:evict_from_dynamic_table()
			assert.equal(63, c:lookup_pair_index(key("a", "b")))
			c:evict_from_dynamic_table()
			assert.is_nil(c:lookup_pair_index(key("a", "b")))
			assert.equal(62, c:lookup_name_index("a"))
			c:evict_from_dynamic_table()
			assert.is_nil(c:lookup_name_index("a"))
		end)
	end)

	describe("encoding", function()
		it("add_header_indexed uses the tables and adds new pairs", function()
			local ctx = hpack.new(4096)
			assert.equal(ctx, ctx:add_header_indexed(":method", "GET", true))
			ctx:add_header_indexed(":method", "PUT", false)
			ctx:add_header_indexed("custom-key", "custom-header", false)
			ctx:add_header_indexed("custom-key", "custom-header", false)
			assert.equal(unhex "82 4203505554 400a637573746f6d2d6b65790d637573746f6d2d686561646572 be",
				ctx:render_data())
			assert.equal(tablestring({ { 55, "custom-key: custom-header" }, { 42, ":method: PUT" } }, 97),
				ctx:dynamic_table_tostring())
		end)
		it("add_header_never_indexed never indexes, but may use an indexed name", function()
			local ctx = hpack.new(4096)
			ctx:add_header_indexed("custom-key", "custom-header", false)
			ctx:clear_data()
			assert.equal(ctx, ctx:add_header_never_indexed("custom-key", "secret", false))
			ctx:add_header_never_indexed(":method", "GET", true)
			ctx:add_header_never_indexed("x-y", "z", true)
			assert.equal(unhex "1f2f 06736563726574 12 83c5837f 10 83f2b7af 81f7", ctx:render_data())
			assert.equal(tablestring({ { 55, "custom-key: custom-header" } }, 55), ctx:dynamic_table_tostring())
		end)
		it("encode_headers marks never_index headers never indexed", function()
			local ctx = hpack.new(4096)
			local data = encode(ctx, { { "authorization", "xyz", true }, { "secret", "pw", true }, { "x", "1" } })
			assert.equal(unhex "1f08 0378797a 10 06736563726574 027077 40 0178 0131", data)
			assert.equal(tablestring({ { 34, "x: 1" } }, 34), ctx:dynamic_table_tostring())
			assert.same({ { "authorization", "xyz", true }, { "secret", "pw", true }, { "x", "1" } },
				decode(hpack.new(4096), data))
		end)
		it("encodes the fields http.headers deems sensitive never indexed", function()
			local h = new_headers()
			h:append("authorization", "secret")
			local ctx = hpack.new(4096)
			ctx:encode_headers(h)
			assert.equal(unhex "1f08 06736563726574", ctx:render_data())
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
		end)
		it("keeps header names as given, and bytes as they are", function()
			local list = { { "X-Upper", "v" }, { "bin", "\0\1\255 \r\n" }, { "empty", "" } }
			local data = encode(hpack.new(4096), list)
			assert.same(list, decode(hpack.new(4096), data))
		end)
		it("encodes long values with multi-byte lengths", function()
			local list = { { "x-long", ("a"):rep(5000) }, { "x-short", "b" } }
			local data = encode(hpack.new(4096), list)
			assert.equal(unhex "40 06782d6c6f6e67 7f8926", data:sub(1, 11))
			assert.same(list, decode(hpack.new(4096), data))
		end)
		it("Huffman-codes every byte value both ways", function()
			local all = {}
			for i = 0, 255 do all[#all + 1] = string.char(i) end
			all = table.concat(all)
			local ctx = hpack.new(4096)
			ctx:add_header_never_indexed(all, all:reverse(), true)
			local data = ctx:render_data()
			assert.equal("\16\255", data:sub(1, 2)) -- literal name, Huffman-coded
			assert.same({ { all, all:reverse(), true } }, decode(hpack.new(4096), data))
		end)
		it("round-trips through encode_headers and decode_headers over many blocks", function()
			local enc, dec = hpack.new(512), hpack.new(512)
			for i = 1, 200 do
				local list = {
					{ ":status", tostring(200 + i % 5) },
					{ "x-counter", tostring(i) },
					{ "x-mod", tostring(i % 7) },
					{ "x-secret", "s" .. i, true },
				}
				assert.same(list, decode(dec, encode(enc, list)))
				assert.equal(enc:dynamic_table_tostring(), dec:dynamic_table_tostring())
			end
		end)
	end)

	describe("decode_headers", function()
		it("returns a new http.headers object and the next position", function()
			local ctx = hpack.new(4096)
			local h, pos = ctx:decode_headers(unhex "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d")
			assert.equal(21, pos)
			assert.equal(4, h:len())
			assert.equal("www.example.com", h:get(":authority"))
		end)
		it("appends to the header list given, from the position given", function()
			local ctx = hpack.new(4096)
			local h = new_headers()
			h:append("first", "1")
			local h2, pos = ctx:decode_headers("xx\130\16\1a\1b", h, 3)
			assert.equal(h, h2)
			assert.equal(9, pos)
			assert.same({ { "first", "1" }, { ":method", "GET" }, { "a", "b", true } }, fields(h))
			-- a position past the end decodes nothing
			local h3, pos3 = ctx:decode_headers("\130", nil, 5)
			assert.equal(0, h3:len())
			assert.equal(5, pos3)
			assert.has_error(function() ctx:decode_headers("\130", nil, 0) end)
		end)
		it("accepts size updates at the start of a block only", function()
			local ctx = hpack.new(4096)
			assert.same({}, decode(ctx, "\32"))
			assert.same({ { ":method", "GET" } }, decode(ctx, "\32\63\225\31\130"))
			assert.truthy(decode_error("\130\32"):find("MUST occur at the beginning of a header block", 1, true))
			assert.truthy(decode_error("\63\226\31"):find("MUST be lower than or equal to the limit", 1, true))
		end)
		it("applies size updates to the dynamic table", function()
			local ctx = hpack.new(4096)
			decode(ctx, unhex "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")
			assert.equal(55, tonumber(ctx:dynamic_table_tostring():match("Table size: +(%d+)")))
			decode(ctx, "\32")
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
			-- with a 0-byte table nothing is added
			decode(ctx, unhex "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")
			assert.equal(tablestring({}, 0), ctx:dynamic_table_tostring())
		end)
		it("stops before a representation that is cut short", function()
			local ctx = hpack.new(4096)
			local cases = {
				{ "\255", 1, 0 }, -- integer continues past the end
				{ "\255\128", 1, 0 },
				{ "\130\130\255", 3, 2 },
				{ "\64\1a", 1, 0 }, -- value missing
				{ "\64\5ab", 1, 0 }, -- name past the end
				{ "\0\127\255\255\255\15ab", 1, 0 }, -- huge length
				{ "\64\1a\1b\64\1c", 6, 1 },
			}
			for _, c in ipairs(cases) do
				local h, pos = ctx:decode_headers(c[1])
				assert.equal(c[2], pos)
				assert.equal(c[3], h:len())
			end
		end)
		it("returns a COMPRESSION_ERROR for malformed input", function()
			assert.equal("index 0 not found in table", decode_error("\128"))
			assert.equal("index 64 not found in table", decode_error("\192"))
			assert.equal("index 62 not found in table", decode_error("\126\1b"))
			assert.equal("index 62 not found in table", decode_error("\15\47\1b"))
			assert.equal("integer overflow", decode_error("\255\255\255\255\255\255\255\255\255\1"))
			assert.equal("integer overflow", decode_error("\127\128\128\128\128\128\128\128\1"))
			assert.equal("invalid huffman code (EOS)", decode_error("\64\132\255\255\255\255\1b"))
			assert.equal("invalid huffman padding: too much padding", decode_error("\64\129\255\1b"))
			assert.equal("invalid huffman padding: too much padding", decode_error("\64\130\31\255\1b"))
			assert.equal("invalid huffman padding: expected most significant bits to match EOS",
				decode_error("\64\129\24\1b"))
			local err = select(2, hpack.new(4096):decode_headers("\128"))
			assert.truthy(err.traceback:find("hpack_spec.lua", 1, true))
		end)
		it("never crashes on random input", function()
			local x = 5
			for n = 1, 3000 do
				local t = {}
				for i = 1, n % 40 + 1 do
					x = (x * 1103515245 + 12345) % 2147483648
					t[i] = string.char(math.floor(x / 65536) % 256)
				end
				local ctx = hpack.new(n % 3 * 100)
				local h, pos = ctx:decode_headers(table.concat(t))
				if h then
					assert.equal("number", type(pos))
				else
					assert.truthy(h2_error.is(pos))
				end
			end
		end)
	end)

	it("checks its arguments", function()
		local ctx = hpack.new(4096)
		assert.has_error(function() ctx:encode_headers(nil) end)
		assert.has_error(function() ctx:encode_headers({}) end)
		assert.has_error(function() ctx:decode_headers(nil) end)
		assert.has_error(function() ctx:decode_headers("\130", {}) end)
		assert.has_error(function() ctx.render_data({}) end)
		assert.truthy(tostring(ctx):find("^http.hpack: "))
	end)
end)
