-- The stream interface (lua-http's "stream" section) over a Rust stream (src/stream_common.rs).
-- Rust does the protocol work; this file adds the waiting (core.await) and the body helpers
-- built from get_next_chunk/write_chunk.
local core = require "http.core"

local S = core.stream
local await, monotime = core.await, core.monotime
local ETIMEDOUT = 110

local methods = {}
local mt = { __name = "http.stream", __index = methods }

-- `defer`: the stream runs in a coroutine of our scheduler, so a head written without the end
-- of the stream may be held back until the body (or the coroutine's next suspension).
local function wrap(ud, connection, defer)
	-- Every field a stream gets is there from the start: the table is never resized.
	return setmetatable({ _ud = ud, connection = connection, _defer = defer, _deferred = false, _busy_conn = false }, mt)
end

-- Streams whose head is held back; sent when the coroutine that wrote them suspends.
local deferred, ndeferred = {}, 0
core.on_suspend(function()
	if ndeferred == 0 then return end
	for i = 1, ndeferred do
		local s = deferred[i]
		deferred[i] = nil
		if s._deferred then
			s._deferred = false
			S.flush(s._ud)
		end
	end
	ndeferred = 0
end)

-- Seconds left before `deadline` (nil: no limit); negative means already passed.
local function left(deadline)
	return deadline and deadline - monotime()
end

local function timed_out()
	return nil, "Connection timed out", ETIMEDOUT
end

function methods:checktls() return S.checktls(self._ud) end
function methods:localname() return S.localname(self._ud) end
function methods:peername() return S.peername(self._ud) end

function methods:get_headers(timeout)
	return await(S.get_headers(self._ud, timeout))
end

function methods:write_headers(headers, end_stream, timeout)
	local defer = self._defer and not end_stream
	local ok, err, errno = await(S.write_headers(self._ud, headers, end_stream, defer, timeout))
	if defer and ok then
		self._deferred = true
		ndeferred = ndeferred + 1
		deferred[ndeferred] = self
	end
	return ok, err, errno
end

function methods:write_continue(timeout)
	return await(S.write_continue(self._ud, timeout))
end

function methods:get_next_chunk(timeout)
	return await(S.get_next_chunk(self._ud, timeout))
end

-- Where a generic-for cannot yield (Lua 5.1), each_chunk waits by pumping the scheduler, so
-- other requests are still served meanwhile.
local for_can_yield, wait_pumping = core.for_can_yield, core.wait_pumping

local function await_pumping(a, b, ...)
	if a == nil and type(b) == "userdata" then return wait_pumping(b) end
	return a, b, ...
end

function methods:each_chunk()
	return function()
		local chunk, err, errno
		if for_can_yield then
			chunk, err, errno = self:get_next_chunk()
		else
			chunk, err, errno = await_pumping(S.get_next_chunk(self._ud))
		end
		if chunk == nil and err ~= nil then error(err, 2) end
		return chunk, err, errno
	end
end

function methods:get_body_as_string(timeout)
	local deadline = timeout and monotime() + timeout
	local parts, n = {}, 0
	while true do
		local chunk, err, errno = self:get_next_chunk(left(deadline))
		if chunk == nil then
			if err ~= nil then return nil, err, errno end
			return table.concat(parts, "", 1, n)
		end
		n = n + 1
		parts[n] = chunk
	end
end

function methods:get_body_chars(n, timeout)
	local deadline = timeout and monotime() + timeout
	local parts, have = {}, 0
	while have < n do
		local chunk, err, errno = self:get_next_chunk(left(deadline))
		if chunk == nil then
			if err ~= nil then return nil, err, errno end
			break
		end
		parts[#parts + 1] = chunk
		have = have + #chunk
	end
	-- At the end of the body there is nothing to give (lua-http returns nil, not "").
	if parts[1] == nil and n > 0 then return nil end
	local body = table.concat(parts)
	if #body > n then
		S.unget(self._ud, body:sub(n + 1))
		body = body:sub(1, n)
	end
	return body
end

function methods:get_body_until(pattern, plain, include_pattern, timeout)
	local deadline = timeout and monotime() + timeout
	local body = ""
	while true do
		local s, e = body:find(pattern, 1, plain)
		if s then
			if e < #body then S.unget(self._ud, body:sub(e + 1)) end
			return include_pattern and body:sub(1, e) or body:sub(1, s - 1)
		end
		local chunk, err, errno = self:get_next_chunk(left(deadline))
		if chunk == nil then
			if err ~= nil then return nil, err, errno end
			-- no match before the end: what is left, and nil once nothing is
			if body == "" then return nil end
			return body
		end
		body = body .. chunk
	end
end

function methods:save_body_to_file(file, timeout)
	local deadline = timeout and monotime() + timeout
	while true do
		local chunk, err, errno = self:get_next_chunk(left(deadline))
		if chunk == nil then
			if err ~= nil then return nil, err, errno end
			return true
		end
		local ok, werr, werrno = file:write(chunk)
		if not ok then return nil, werr, werrno end
	end
end

function methods:get_body_as_file(timeout)
	local file, err, errno = io.tmpfile()
	if not file then return nil, err, errno end
	local ok
	ok, err, errno = self:save_body_to_file(file, timeout)
	if not ok then return nil, err, errno end
	file:seek("set")
	return file
end

function methods:unget(str)
	return S.unget(self._ud, str)
end

function methods:write_chunk(chunk, end_stream, timeout)
	self._deferred = false -- Rust sends a held-back head with the first chunk
	return await(S.write_chunk(self._ud, chunk, end_stream, timeout))
end

function methods:write_body_from_string(str, timeout)
	return self:write_chunk(str, true, timeout)
end

local FILE_CHUNK = 64 * 1024

function methods:write_body_from_file(options, timeout)
	local file, count
	if io.type(options) then
		file = options
	elseif type(options) == "table" then
		file, count = options.file, options.count
	end
	if not io.type(file) then error("write_body_from_file: a file (or {file=, count=}) expected", 2) end
	local deadline = timeout and monotime() + timeout
	while count == nil or count > 0 do
		local data, err = file:read(count and math.min(count, FILE_CHUNK) or FILE_CHUNK)
		if data == nil then
			if err then return nil, err end
			if count then return nil, "unexpected end of file", 5 end
			break
		end
		if count then count = count - #data end
		local t = left(deadline)
		if t and t <= 0 then return timed_out() end
		local ok, werr, werrno = self:write_chunk(data, false, t)
		if not ok then return nil, werr, werrno end
	end
	return self:write_chunk("", true, left(deadline))
end

-- HTTP/2 server push: the promised request's stream, to write the pushed response on.
-- (The timeout is accepted for lua-http's signature; a promise is sent without waiting.)
function methods:push_promise(headers)
	local ud, err, errno = S.push_promise(self._ud, headers)
	if not ud then return nil, err, errno end
	return wrap(ud, self.connection, self._defer)
end

-- Client, before write_headers (our extension): decode a gzip/deflate Content-Encoding of the
-- response; the headers returned then have no content-encoding or content-length.
function methods:decode_content()
	return S.decode_content(self._ud)
end

-- After a head that switched protocols (101, or 2xx to CONNECT): the connection's socket,
-- for http.websocket or http.client.negotiate (lua-http has this on the connection).
function methods:take_socket(timeout)
	self._deferred = false
	return await(S.take_socket(self._ud, timeout))
end

function methods:shutdown()
	self._deferred = false
	S.shutdown(self._ud)
	return true
end

return {
	methods = methods,
	mt = mt,
	wrap = wrap,
}
