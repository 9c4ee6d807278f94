describe("http.h2_error", function()
	local h2_error = require "http.h2_error"
	local errors = h2_error.errors

	local rfc7540 = {
		{ "NO_ERROR", "Graceful shutdown" },
		{ "PROTOCOL_ERROR", "Protocol error detected" },
		{ "INTERNAL_ERROR", "Implementation fault" },
		{ "FLOW_CONTROL_ERROR", "Flow control limits exceeded" },
		{ "SETTINGS_TIMEOUT", "Settings not acknowledged" },
		{ "STREAM_CLOSED", "Frame received for closed stream" },
		{ "FRAME_SIZE_ERROR", "Frame size incorrect" },
		{ "REFUSED_STREAM", "Stream not processed" },
		{ "CANCEL", "Stream cancelled" },
		{ "COMPRESSION_ERROR", "Compression state not updated" },
		{ "CONNECT_ERROR", "TCP connection error for CONNECT method" },
		{ "ENHANCE_YOUR_CALM", "Processing capacity exceeded" },
		{ "INADEQUATE_SECURITY", "Negotiated TLS parameters not acceptable" },
		{ "HTTP_1_1_REQUIRED", "Use HTTP/1.1 for the request" },
	}

	it("has every RFC 7540 error by name and by code", function()
		local n = 0
		for _ in pairs(errors) do n = n + 1 end
		assert.same(2 * #rfc7540, n)
		for i, e in ipairs(rfc7540) do
			local code = i - 1
			local ob = errors[e[1]]
			assert.equal(ob, errors[code])
			assert.equal(e[1], ob.name)
			assert.equal(code, ob.code)
			assert.equal(e[2], ob.description)
			assert.is_nil(ob.message)
			assert.is_nil(ob.traceback)
			assert.truthy(h2_error.is(ob))
		end
		assert.equal(errors.PROTOCOL_ERROR, errors[0x1])
		assert.equal(errors.HTTP_1_1_REQUIRED, errors[0xd])
		assert.is_nil(errors[0xe])
	end)

	it("is() recognises only error objects", function()
		assert.is_true(h2_error.is(errors.CANCEL))
		assert.is_true(h2_error.is(errors.CANCEL:new {}))
		assert.is_false(h2_error.is({ name = "CANCEL", code = 8 }))
		assert.is_false(h2_error.is(nil))
		assert.is_false(h2_error.is("PROTOCOL_ERROR"))
		assert.is_false(h2_error.is(setmetatable({}, {})))
	end)

	it("tostring gives name, code, description and message", function()
		assert.equal("PROTOCOL_ERROR(0x1): Protocol error detected", tostring(errors.PROTOCOL_ERROR))
		assert.equal("HTTP_1_1_REQUIRED(0xd): Use HTTP/1.1 for the request", tostring(errors[13]))
		local e = errors.FRAME_SIZE_ERROR:new { message = "too big" }
		assert.equal("FRAME_SIZE_ERROR(0x6): Frame size incorrect: too big", tostring(e))
		e = errors.CANCEL:new { message = "m", traceback = "\nstack traceback:\n\tx" }
		assert.equal("CANCEL(0x8): Stream cancelled: m\n\nstack traceback:\n\tx", tostring(e))
		-- messages are bytes
		e = errors.CANCEL:new { message = "\255\0" }
		assert.equal("CANCEL(0x8): Stream cancelled: \255\0", tostring(e))
	end)

	describe("new", function()
		it("inherits name, code and description", function()
			local e = errors.PROTOCOL_ERROR:new { message = "hi" }
			assert.equal("PROTOCOL_ERROR", e.name)
			assert.equal(1, e.code)
			assert.equal("Protocol error detected", e.description)
			assert.equal("hi", e.message)
			assert.is_false(e.stream_error)
			assert.is_nil(e.traceback)
			-- the parent is not changed
			assert.is_nil(errors.PROTOCOL_ERROR.message)
		end)
		it("takes the fields given", function()
			local e = errors.NO_ERROR:new { name = "X", code = 99, description = "D", stream_error = true, traceback = "tb" }
			assert.equal("X", e.name)
			assert.equal(99, e.code)
			assert.equal("D", e.description)
			assert.is_true(e.stream_error)
			assert.equal("tb", e.traceback)
			assert.equal("X(0x63): D\ntb", tostring(e))
			-- and children of children inherit from their parent
			local c = e:new { message = "m" }
			assert.equal("X", c.name)
			assert.equal(99, c.code)
			assert.equal("D", c.description)
			assert.is_false(c.stream_error)
			assert.truthy(h2_error.is(c))
		end)
		it("copies only the documented fields", function()
			local e = errors.CANCEL:new { extra = 1 }
			assert.is_nil(e.extra)
		end)
		it("requires a table", function()
			local ok, err = pcall(errors.CANCEL.new, errors.CANCEL, nil)
			assert.is_false(ok)
			assert.truthy(err:find("table expected", 1, true))
		end)
	end)

	describe("new_traceback", function()
		it("records a traceback from the caller", function()
			local e = errors.INTERNAL_ERROR:new_traceback("oops", true)
			assert.equal("oops", e.message)
			assert.is_true(e.stream_error)
			assert.equal("INTERNAL_ERROR", e.name)
			assert.equal("string", type(e.traceback))
			assert.truthy(e.traceback:find("^\nstack traceback:\n"))
			assert.truthy(e.traceback:find("h2_error_spec.lua", 1, true))
			assert.equal("INTERNAL_ERROR(0x2): Implementation fault: oops\n" .. e.traceback, tostring(e))
		end)
		it("defaults stream_error to false", function()
			assert.is_false(errors.CANCEL:new_traceback("m").stream_error)
		end)
		it("starts at the level asked for", function()
			local line
			local function inner()
				local e = errors.CANCEL:new_traceback("m", false, 2) -- not a tail call
				return e
			end
			local function outer()
				line = debug.getinfo(1, "l").currentline; local e = inner()
				return e
			end
			local e = outer()
			-- level 2 skips inner(): the first frame is outer()'s line
			local first = e.traceback:match("\n\t([^\n]*)")
			assert.truthy(first:find("h2_error_spec.lua:" .. line .. ":", 1, true))
		end)
	end)

	describe("error", function()
		it("throws a new error object", function()
			local ok, e = pcall(errors.PROTOCOL_ERROR.error, errors.PROTOCOL_ERROR, "boom", true)
			assert.is_false(ok)
			assert.truthy(h2_error.is(e))
			assert.equal("boom", e.message)
			assert.is_true(e.stream_error)
			assert.equal("PROTOCOL_ERROR", e.name)
			assert.truthy(e.traceback:find("stack traceback:", 1, true))
			assert.equal("PROTOCOL_ERROR(0x1): Protocol error detected: boom\n" .. e.traceback, tostring(e))
		end)
		it("can be thrown by calling the object", function()
			local ok, e = pcall(function() errors.CANCEL("bye") end)
			assert.is_false(ok)
			assert.truthy(h2_error.is(e))
			assert.equal("bye", e.message)
			assert.is_false(e.stream_error)
		end)
		it("works with method call syntax from Lua code", function()
			local ok, e = pcall(function() errors.ENHANCE_YOUR_CALM:error("slow down") end)
			assert.is_false(ok)
			assert.equal(11, e.code)
			assert.equal("slow down", e.message)
		end)
	end)

	describe("assert", function()
		it("returns all its arguments when cond is truthy", function()
			assert.same({ 1, 2, 3 }, { errors.CANCEL:assert(1, 2, 3) })
			assert.equal(3, select("#", errors.CANCEL:assert(1, nil, nil)))
		end)
		it("throws with the first extra argument as message", function()
			for _, cond in ipairs { false, "nil" } do
				if cond == "nil" then cond = nil end
				local ok, e = pcall(errors.FLOW_CONTROL_ERROR.assert, errors.FLOW_CONTROL_ERROR, cond, "window", "more")
				assert.is_false(ok)
				assert.truthy(h2_error.is(e))
				assert.equal("FLOW_CONTROL_ERROR", e.name)
				assert.equal("window", e.message)
				assert.is_false(e.stream_error)
			end
			local ok, e = pcall(errors.CANCEL.assert, errors.CANCEL, false)
			assert.is_false(ok)
			assert.is_nil(e.message)
		end)
	end)
end)
