describe("http.zlib", function()
	local zlib = require "http.zlib"

	local function unhex(s)
		return (s:gsub("..", function(h) return string.char(tonumber(h, 16)) end))
	end

	-- Deterministic pseudo-random bytes (no bit operators: runs on every Lua).
	local function noise(n, seed)
		local t, x = {}, seed or 1
		for i = 1, n do
			x = (x * 1103515245 + 12345) % 2147483648
			t[i] = string.char(math.floor(x / 65536) % 256)
		end
		return table.concat(t)
	end

	-- Text-like data that compresses well.
	local function text(nwords)
		local words = { "the", "racecar", "raced", "around", "track", "header", "value", "HTTP/2", "\0", "lua" }
		local t, x = {}, 7
		for i = 1, nwords do
			x = (x * 69069 + 1) % 4294967296
			t[i] = words[math.floor(x / 65536) % #words + 1]
		end
		return table.concat(t, " ")
	end

	-- Feed `data` to closure `f` in pieces of `size` bytes (the last one flagged as the end).
	local function pieces(f, data, size)
		local out = {}
		for i = 1, math.max(#data, 1), size do
			out[#out + 1] = f(data:sub(i, i + size - 1), i + size > #data)
		end
		return table.concat(out)
	end

	local function errmsg(f, ...)
		local ok, err = pcall(f, ...)
		assert.is_false(ok)
		return err
	end

	it("names its engine", function()
		assert.equal("string", type(zlib.engine))
		assert.equal("flate2", zlib.engine)
	end)

	it("runs the manual's example", function()
		local original = "the racecar raced around the racecar track"
		local deflater = zlib.deflate()
		local compressed = deflater(original, true)
		assert.truthy(#compressed < #original)
		local inflater = zlib.inflate()
		local uncompressed = inflater(compressed, true)
		assert.equal(original, uncompressed)
	end)

	it("writes the zlib format and reads what zlib wrote", function()
		local c = zlib.deflate()("hello", true)
		assert.equal("\120", c:sub(1, 1)) -- CMF: deflate, 32K window
		assert.equal(0, (c:byte(1) * 256 + c:byte(2)) % 31)
		assert.equal("hello", zlib.inflate()(unhex "789ccb48cdc9c90700062c0215", true))
		assert.equal("", zlib.inflate()(unhex "78da030000000001", true))
	end)

	it("reads gzip streams too", function()
		local plain = unhex "1f8b0800000000000003cb48cdc9c95748afca2c0000196ad2df0a000000"
		local named = unhex "1f8b08082c33016b00036e616d65642e74787400cb48cdc9c95748afca2c0000196ad2df0a000000"
		for _, gz in ipairs { plain, named } do
			assert.equal("hello gzip", zlib.inflate()(gz, true))
			assert.equal("hello gzip", pieces(zlib.inflate(), gz, 1))
			assert.equal("hello gzip", pieces(zlib.inflate(), gz, 3))
		end
		-- concatenated members are one stream
		assert.equal("hello gziphello gzip", zlib.inflate()(plain .. named, true))
		-- a wrong checksum or length is an error
		local bad = plain:sub(1, -9) .. "\0\0\0\0" .. plain:sub(-4)
		assert.truthy(errmsg(zlib.inflate(), bad, true):find("checksum", 1, true))
		bad = plain:sub(1, -5) .. "\11\0\0\0"
		assert.truthy(errmsg(zlib.inflate(), bad, true):find("checksum", 1, true))
		-- trailing garbage after a member
		assert.truthy(errmsg(zlib.inflate(), plain .. "xy", true):find("gzip", 1, true))
		-- a damaged header
		assert.truthy(errmsg(zlib.inflate(), "\31\139\9\0\0\0\0\0\0\3", true):find("gzip", 1, true))
	end)

	it("round-trips data fed in small pieces", function()
		local data = text(5000)
		for _, size in ipairs { 1, 7, 100, 4096 } do
			local compressed = pieces(zlib.deflate(), data, size)
			assert.equal(data, pieces(zlib.inflate(), compressed, size))
			assert.equal(data, zlib.inflate()(compressed, true))
		end
	end)

	it("flushes each piece so it can be read at once", function()
		local d, i = zlib.deflate(), zlib.inflate()
		for n = 1, 20 do
			local piece = ("piece " .. n .. " "):rep(n)
			local c = d(piece, false)
			assert.truthy(#c > 0)
			assert.equal(piece, i(c, false))
		end
		assert.equal("", i(d("", true), true))
	end)

	it("handles several megabytes", function()
		local data = text(400000) .. noise(1000000, 3)
		assert.truthy(#data > 3000000)
		local compressed = pieces(zlib.deflate(), data, 1000000)
		assert.truthy(#compressed < #data)
		assert.equal(data, zlib.inflate()(compressed, true))
		assert.equal(data, pieces(zlib.inflate(), compressed, 65536))
		-- and data that expands a lot when inflated
		local zeros = ("\0"):rep(8 * 1024 * 1024)
		compressed = zlib.deflate()(zeros, true)
		assert.truthy(#compressed < 20000)
		assert.equal(zeros, zlib.inflate()(compressed, true))
	end)

	it("handles empty input", function()
		local d = zlib.deflate()
		assert.equal("", d("", false))
		local c = d("", true)
		assert.truthy(#c > 0)
		assert.equal("", zlib.inflate()(c, true))
		-- empty pieces before the end change nothing
		local i = zlib.inflate()
		assert.equal("", i("", false))
		assert.equal("", i(c, false))
		assert.equal("", i("", true))
		-- no stream at all is not a valid stream
		assert.truthy(errmsg(zlib.inflate(), "", true):find("end of input", 1, true))
	end)

	describe("the end of stream flag", function()
		local data = text(2000)
		local compressed = zlib.deflate()(data, true)

		it("makes a truncated stream an error", function()
			for _, cut in ipairs { 1, 2, 10, #compressed - 1 } do
				assert.truthy(errmsg(zlib.inflate(), compressed:sub(1, cut), true):find("end of input", 1, true))
			end
		end)
		it("lets a stream arrive in parts until it is set", function()
			local i = zlib.inflate()
			local a = i(compressed:sub(1, 20), false)
			local b = i(compressed:sub(21), true)
			assert.equal(data, a .. b)
		end)
		it("lets the end come after the stream", function()
			local i = zlib.inflate()
			assert.equal(data, i(compressed, false))
			assert.equal("", i("", true))
		end)
		it("ends a deflate stream", function()
			local d = zlib.deflate()
			d("abc", true)
			assert.equal("", d("", true))
			assert.truthy(errmsg(d, "more", false):find("finished", 1, true))
		end)
	end)

	it("raises errors for corrupt input", function()
		assert.truthy(errmsg(zlib.inflate(), "garbage", true):find("invalid zlib stream", 1, true))
		assert.truthy(errmsg(zlib.inflate(), "garbage", false):find("invalid zlib stream", 1, true))
		local compressed = zlib.deflate()(text(100), true)
		-- a flipped bit in the body or in the checksum
		local mid = math.floor(#compressed / 2)
		local flipped = compressed:sub(1, mid - 1) .. string.char((compressed:byte(mid) + 128) % 256) .. compressed:sub(mid + 1)
		assert.truthy(errmsg(zlib.inflate(), flipped, true):find("invalid", 1, true))
		local badsum = compressed:sub(1, -2) .. string.char((compressed:byte(-1) + 1) % 256)
		assert.truthy(errmsg(zlib.inflate(), badsum, true):find("invalid zlib stream", 1, true))
		-- data after the end of the stream
		assert.truthy(errmsg(zlib.inflate(), compressed .. "x", true):find("after the end", 1, true))
		-- random noise never crashes
		for seed = 1, 200 do
			pcall(zlib.inflate(), noise(seed * 3, seed), true)
			pcall(zlib.inflate(), "\120\156" .. noise(seed * 3, seed), true)
		end
		-- a failed stream stays failed
		local i = zlib.inflate()
		pcall(i, "garbage", false)
		assert.truthy(errmsg(i, compressed, true):find("invalid", 1, true))
	end)

	it("checks its arguments", function()
		assert.truthy(errmsg(zlib.inflate(), nil, true):find("string expected", 1, true))
		assert.truthy(errmsg(zlib.deflate(), {}, true):find("string expected", 1, true))
		-- numbers are strings to Lua
		assert.equal("12", zlib.inflate()(zlib.deflate()(12, true), true))
	end)
end)
