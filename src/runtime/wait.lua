-- The Lua side of the bridge: how a caller waits for a token, and our scheduler.
-- Rust never yields; every suspension happens here (so Lua 5.1 and LuaJIT work).
local core = ...

local co_create, co_resume, co_running = coroutine.create, coroutine.resume, coroutine.running
local co_status, co_yield = coroutine.status, coroutine.yield
local type, next = type, next
local drain, monotime = core.drain, core.monotime

local WAIT = {} -- yielded with a token by coroutines our scheduler runs
local IDLE = {} -- yielded by a pooled coroutine whose job is done
local ours = setmetatable({}, { __mode = "k" }) -- coroutine -> its error handler (or true)
local contexts = setmetatable({}, { __mode = "k" }) -- coroutine -> what its handler is told
local waiting = {} -- token id -> coroutine
local tokens = {} -- token id -> token
local subscribers = {} -- notifier id -> function called when it fires
local ready = {} -- coroutines that yielded without a token: resume on the next step
local deferred = {} -- errors raised while a blocking wait pumped the scheduler
local buffers, depth = {}, 0
local cq_waits = {} -- token id -> the cqueues condition its waiting coroutine sleeps on
local on_suspend = function() end -- called each time one of our coroutines stops running

-- The cqueues controller running the current coroutine, if any.
local function cqueues_running()
	local cqueues = package.loaded.cqueues
	if cqueues then
		-- second value: the current coroutine is one the controller runs (so it may yield)
		local cq, inside = cqueues.running()
		if cq and inside then return cqueues end
	end
end

local pool, npool, POOL_MAX = {}, 0, 256

-- The body of pooled coroutines: run a job, then wait for the next.
local function worker(fn, a, b, c, d)
	while true do
		fn(a, b, c, d)
		fn, a, b, c, d = co_yield(IDLE)
	end
end

local function run(co, ...)
	local ok, a, b, c = co_resume(co, ...)
	on_suspend()
	if not ok then
		local handler, ctx = ours[co], contexts[co]
		ours[co], contexts[co] = nil, nil
		if type(handler) == "function" then
			handler(a, ctx)
			return
		end
		return a
	end
	if a == WAIT then
		local id = c or b:id()
		waiting[id], tokens[id] = co, b
	elseif a == IDLE then
		-- A job finished: keep the coroutine for the next one (creating one per request is a
		-- large part of a small request's cost).
		ours[co], contexts[co] = nil, nil
		if npool < POOL_MAX then
			npool = npool + 1
			pool[npool] = co
		end
	elseif co_status(co) == "dead" then
		ours[co], contexts[co] = nil, nil
	else
		ready[#ready + 1] = co
	end
end

-- Resume everything that can make progress, sleeping up to `timeout` seconds (nil: until
-- something completes) if nothing can. Returns true, or nil and the first error a coroutine
-- without a handler raised.
local function step(timeout)
	if deferred[1] ~= nil then return nil, table.remove(deferred, 1) end
	local err
	if ready[1] ~= nil then timeout = 0 end
	depth = depth + 1
	local ids = buffers[depth]
	if not ids then ids = {}; buffers[depth] = ids end
	local n = drain(ids, timeout)
	for i = 1, n do
		local id = ids[i]
		local co = waiting[id]
		if co then
			local token = tokens[id]
			waiting[id], tokens[id] = nil, nil
			local e = run(co, token:result())
			if e ~= nil and err == nil then err = e end
		else
			local f = subscribers[id]
			if f then
				f()
			else
				local cond = cq_waits[id]
				if cond then
					cq_waits[id] = nil
					cond:signal()
				end
			end
		end
	end
	if ready[1] ~= nil then
		local r = ready
		ready = {}
		for i = 1, #r do
			local e = run(r[i])
			if e ~= nil and err == nil then err = e end
		end
	end
	depth = depth - 1
	if err ~= nil then return nil, err end
	return true
end

-- Is the scheduler keeping any coroutine?
local function empty()
	return next(waiting) == nil and ready[1] == nil
end

local sched_pollable = {
	pollfd = function() return core.pollfd() end,
	events = function() return "r" end,
	timeout = function() return nil end,
}

-- One step that sleeps the right way: inside a cqueues controller the sleeping is left to
-- cqueues (so its other coroutines keep running), elsewhere we sleep on our eventfd.
local function pump(timeout)
	local cqueues = cqueues_running()
	if cqueues and ready[1] == nil and core.pending() == 0 then
		cqueues.poll(sched_pollable, timeout)
		timeout = 0
	end
	return step(timeout)
end

-- Run the scheduler until it is empty or `timeout` passes.
local function loop(timeout)
	local deadline = timeout and monotime() + timeout
	while not empty() or deferred[1] ~= nil do
		local left = deadline and deadline - monotime()
		if left and left <= 0 then break end
		local ok, err = pump(left)
		if not ok then return nil, err end
	end
	return true
end

-- Coroutines that a cqueues controller runs wait on a cqueues condition each; one pump
-- coroutine per controller sleeps on our completion eventfd while any of them waits, steps our
-- scheduler and so signals the conditions of the tokens that finished. (One eventfd for all
-- of them: a token polled by itself costs an eventfd write and read per wait.)
local pumps = setmetatable({}, { __mode = "k" }) -- controller -> { waiting = n, idle = condition }
local spare_conds = {}

local function new_cond()
	local cond = spare_conds[#spare_conds]
	if cond then
		spare_conds[#spare_conds] = nil
		return cond
	end
	return require "cqueues.condition".new()
end

local function cq_pump(cqueues, cq, pump)
	while true do
		if deferred[1] == nil then
			local ok, err = step(0)
			if not ok then deferred[#deferred + 1] = err end
		end
		if pump.waiting == 0 then break end
		if ready[1] == nil and core.pending() == 0 then cqueues.poll(sched_pollable, pump.idle) end
	end
	pumps[cq] = nil
	spare_conds[#spare_conds + 1] = pump.idle
end

local function cq_wait(cqueues, token, id)
	local cq = cqueues.running()
	local pump = pumps[cq]
	if pump == nil then
		pump = { waiting = 0, idle = new_cond() }
		pumps[cq] = pump
		cq:wrap(cq_pump, cqueues, cq, pump)
	end
	pump.waiting = pump.waiting + 1
	id = id or token:id()
	local cond = new_cond()
	cq_waits[id] = cond
	-- (the pump signals only while we sleep: nothing else runs between this check and the poll)
	while not token:done() do cqueues.poll(cond) end
	cq_waits[id] = nil
	spare_conds[#spare_conds + 1] = cond
	pump.waiting = pump.waiting - 1
	-- the last one lets the pump end (so that the controller's loop can)
	if pump.waiting == 0 then pump.idle:signal() end
	return token:result()
end

-- Wait for `token` the way the caller allows (see DESIGN.md) and return its results.
-- `id`: token:id() when the caller knows it already (saves a call into Rust).
local function wait(token, id)
	local co, ismain = co_running()
	if co and not ismain then
		if ours[co] then return co_yield(WAIT, token, id) end
		local cqueues = cqueues_running()
		if cqueues then return cq_wait(cqueues, token, id) end
	end
	while not token:done() do
		local ok, err = step(nil)
		if not ok then deferred[#deferred + 1] = err end
	end
	return token:result()
end

-- Lua 5.1 cannot yield from inside a generic-for iterator ("attempt to yield across
-- metamethod/C-call boundary"): iterators there wait with wait_pumping instead.
local for_can_yield = _VERSION ~= "Lua 5.1" or jit ~= nil

-- Wait for `token` (anything with done/result) by stepping our scheduler, never yielding:
-- other coroutines still run meanwhile.
local function wait_pumping(token)
	while not token:done() do
		local ok, err = step(nil)
		if not ok then error(err, 0) end
	end
	return token:result()
end

-- Rust functions that may block return `nil, token`; pass anything else through.
local function await(a, b, ...)
	if a == nil and type(b) == "userdata" then return wait(b) end
	return a, b, ...
end

-- Run fn(a, b, c, d) in a coroutine of our scheduler; errors go to `handler(err, ctx)` or, without
-- a handler, are returned by the step that hits them. (A context instead of a closure per call
-- keeps this path compilable by LuaJIT.)
local function spawn(handler, ctx, fn, a, b, c, d)
	local co
	if npool > 0 then
		co, pool[npool] = pool[npool], nil
		npool = npool - 1
	else
		co = co_create(worker)
	end
	ours[co], contexts[co] = handler or true, ctx
	local e = run(co, fn, a, b, c, d)
	if e ~= nil then deferred[#deferred + 1] = e end
	return co
end

-- Call fn() whenever the notifier `id` fires (nil fn: stop).
local function subscribe(id, fn)
	subscribers[id] = fn
end

core.subscribe = subscribe
-- Set the function called whenever one of our coroutines yields or ends.
core.on_suspend = function(fn) on_suspend = fn end
core.wait, core.await, core.step, core.loop, core.spawn, core.empty = wait, await, step, loop, spawn, empty
core.pump, core.cqueues_running = pump, cqueues_running
core.wait_pumping, core.for_can_yield = wait_pumping, for_can_yield
core.sleep = function(seconds) return await(core.timer(seconds)) end
-- A token is pollable (cqueues and other loops): its pollfd is readable once it is done.
core.token_methods.events = function() return "r" end
core.token_methods.timeout = function() return nil end
