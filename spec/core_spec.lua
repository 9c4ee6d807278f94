-- The bridge (src/runtime): a timer-backed operation waited for in the three contexts of
-- DESIGN.md: the main thread, our scheduler, and a real cqueues controller.
describe("http.core bridge", function()
	local core = require "http.core"
	local ETIMEDOUT = 110

	it("blocks the main thread until the operation finishes", function()
		local t0 = core.monotime()
		assert.same({ true }, { core.sleep(0.05) })
		local took = core.monotime() - t0
		assert.truthy(took >= 0.05 and took < 1, took)
	end)

	it("returns nil, message, ETIMEDOUT when the timeout runs out", function()
		local t0 = core.monotime()
		local ok, msg, errno = core.await(core.timer(5, 0.05))
		assert.is_nil(ok)
		assert.same(ETIMEDOUT, errno)
		assert.truthy(msg:find("timed out"))
		assert.truthy(core.monotime() - t0 < 1)
	end)

	it("treats a zero timeout as 'do not wait'", function()
		local ok, _, errno = core.await(core.timer(1, 0))
		assert.is_nil(ok)
		assert.same(ETIMEDOUT, errno)
	end)

	it("runs coroutines concurrently under our scheduler", function()
		local order = {}
		local t0 = core.monotime()
		for i = 1, 3 do
			core.spawn(nil, nil, function()
				assert.same({ true }, { core.sleep(0.05 * (4 - i)) })
				order[#order + 1] = i
			end)
		end
		assert.falsy(core.empty())
		assert.truthy(core.loop(5))
		assert.truthy(core.empty())
		assert.same({ 3, 2, 1 }, order)
		-- concurrent: the total is the longest sleep, not the sum
		assert.truthy(core.monotime() - t0 < 0.28)
	end)

	it("batches many completions and resumes each waiter once", function()
		local done = 0
		for _ = 1, 500 do
			core.spawn(nil, nil, function()
				core.sleep(0.01)
				done = done + 1
			end)
		end
		assert.truthy(core.loop(5))
		assert.same(500, done)
	end)

	it("reports a coroutine's error from step, or to its handler", function()
		core.spawn(nil, nil, function()
			core.sleep(0.01)
			error("boom", 0)
		end)
		assert.same({ nil, "boom" }, { core.loop(5) })
		local seen
		core.spawn(function(err) seen = err end, nil, function()
			core.sleep(0.01)
			error("handled", 0)
		end)
		assert.truthy(core.loop(5))
		assert.same("handled", seen)
	end)

	it("keeps the scheduler running while the main thread waits", function()
		local ticks = 0
		core.spawn(nil, nil, function()
			for _ = 1, 5 do
				core.sleep(0.01)
				ticks = ticks + 1
			end
		end)
		core.sleep(0.2)
		assert.same(5, ticks)
	end)

	it("waits inside a coroutine that is not ours by blocking", function()
		local co = coroutine.wrap(function() return core.sleep(0.01) end)
		assert.same(true, co())
	end)

	it("cooperates with a real cqueues controller", function()
		local cqueues = require "cqueues"
		local cq = cqueues.new()
		local ticks, result, ticks_at_end, result_timeout = 0, nil, nil, nil
		cq:wrap(function()
			for _ = 1, 5 do
				cqueues.sleep(0.02)
				ticks = ticks + 1
			end
		end)
		cq:wrap(function()
			result = { core.sleep(0.25) }
			ticks_at_end = ticks
		end)
		cq:wrap(function()
			result_timeout = { core.await(core.timer(5, 0.05)) }
		end)
		assert.truthy(cq:loop(5))
		assert.same({ true }, result)
		-- the cqueues timers progressed while we waited
		assert.same(5, ticks_at_end)
		assert.same(ETIMEDOUT, result_timeout[3])
	end)

	it("does not let completions pile up when only cqueues waits", function()
		local cqueues = require "cqueues"
		local cq = cqueues.new()
		local done = 0
		for _ = 1, 4 do
			cq:wrap(function()
				for _ = 1, 100 do
					assert(core.sleep(0))
					done = done + 1
				end
			end)
		end
		assert.truthy(cq:loop(10))
		assert.same(400, done)
		-- (each wait leaves at most its own completion, queued right after it woke)
		assert.truthy(core.pending() <= 4, core.pending())
	end)

	it("lets a cqueues controller's loop end as soon as its coroutines' waits are done", function()
		local cqueues = require "cqueues"
		local cq = cqueues.new()
		local done = 0
		for _ = 1, 20 do
			cq:wrap(function()
				assert(core.sleep(0.01))
				done = done + 1
			end)
		end
		local t0 = core.monotime()
		assert.truthy(cq:loop(5))
		assert.same(20, done)
		assert.truthy(core.monotime() - t0 < 2, "the loop ran into its timeout")
		assert.same(0, core.pending())
	end)

	it("runs its I/O threads under SCHED_BATCH", function()
		assert(core.sleep(0)) -- (the runtime is up)
		local pid = assert(io.open("/proc/self/stat")):read("*l"):match("^(%d+)")
		local list = io.popen("grep -l '^http-core-io' /proc/" .. pid .. "/task/*/comm")
		local threads = 0
		for path in list:lines() do
			local stat = assert(io.open((path:gsub("comm$", "stat")))):read("*l")
			local fields = {}
			for f in stat:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = f end
			assert.same("3", fields[39]) -- stat's field 41, the policy: 3 is SCHED_BATCH
			threads = threads + 1
		end
		list:close()
		assert.truthy(threads > 0)
	end)

	it("runs our scheduler from inside a cqueues controller", function()
		local cqueues = require "cqueues"
		local cq = cqueues.new()
		local ticks, done = 0, false
		core.spawn(nil, nil, function()
			core.sleep(0.15)
			done = true
		end)
		cq:wrap(function()
			for _ = 1, 5 do
				cqueues.sleep(0.02)
				ticks = ticks + 1
			end
		end)
		cq:wrap(function() assert(core.loop(5)) end)
		assert.truthy(cq:loop(5))
		assert.truthy(done)
		assert.same(5, ticks)
	end)

	it("hands out tokens that cqueues can poll itself", function()
		local cqueues = require "cqueues"
		local cq = cqueues.new()
		local result
		cq:wrap(function()
			local _, token = core.timer(0.05)
			local t0 = core.monotime()
			assert.same(token, cqueues.poll(token))
			assert.truthy(token:done())
			assert.truthy(core.monotime() - t0 >= 0.04)
			result = { token:result() }
		end)
		assert.truthy(cq:loop(5))
		assert.same({ true }, result)
	end)

	it("exposes a pollable completion fd for foreign loops", function()
		assert.same("number", type(core.pollfd()))
		local _, token = core.timer(0.01)
		assert.same("number", type(token:pollfd()))
		assert.same("r", token:events())
		assert.same({ true }, { core.wait(token) })
		assert.has_error(function() token:result() end)
	end)

	it("raises plain string errors with the caller's position for bad arguments", function()
		local ok, err = pcall(function() core.timer("soon") end)
		assert.falsy(ok)
		assert.same("string", type(err))
		assert.truthy(err:find("core_spec.lua:%d+: bad argument #1 to 'timer' %(number expected, got string%)"), err)
	end)
end)
