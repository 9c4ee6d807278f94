-- http.server: accepting and protocol work happen in Rust (src/server.rs); this file runs
-- `onstream` for each request in a coroutine, on our scheduler or, when the program uses
-- cqueues (or passes .cq), under a cqueues controller (see DESIGN.md).
local core = require "http.core"
local stream_common = require "http.stream_common"

local S = core.stream
local spawn, pump, subscribe, monotime = core.spawn, core.pump, core.subscribe, core.monotime
local wrap_stream = stream_common.wrap

-- Connections: what a stream's `connection` field is. Rust keeps the connection state; the
-- first stream's handle reaches it.
local conn_methods = {}
local conn_mt = { __name = "http.connection", __index = conn_methods }

function conn_methods:localname() return S.localname(self._s) end
function conn_methods:peername() return S.peername(self._s) end
function conn_methods:checktls() return S.checktls(self._s) end
function conn_methods:pollfd() return core.pollfd() end
function conn_methods:events() return "r" end
function conn_methods:timeout() return nil end
function conn_methods:onidle(handler)
	local old = self._onidle
	if handler ~= nil then self._onidle = handler end
	return old
end
function conn_methods:shutdown()
	S.close_connection(self._s)
	return true
end
conn_methods.close = conn_methods.shutdown
-- HTTP/1: the socket of the request that switched protocols.
function conn_methods:take_socket()
	local stream = self._current
	if not stream then return nil, "no request on this connection", 22 end
	return stream:take_socket()
end

local server_methods = {}
local server_mt = { __name = "http.server", __index = server_methods }

local function default_onerror(_, context, op, err)
	error(string.format("%s on %s failed%s", op, tostring(context), err and (": " .. tostring(err)) or ""), 0)
end

-- Record an error for step/loop to raise (a raising onerror must not cut a batch short).
local function report(self, context, op, err, errno)
	local ok, e = pcall(self._onerror, self, context, op, err, errno)
	if not ok then self._errors[#self._errors + 1] = e end
end

local function connection_of(self, ud, id)
	local conn = self._conns[id]
	if not conn then
		conn = setmetatable({ type = "server", version = S.version(ud), _s = ud }, conn_mt)
		self._conns[id] = conn
	end
	return conn
end

-- A handler finished: once its connection has no request in progress, call its onidle.
local function finished(stream)
	local conn = stream._busy_conn
	if not conn then return end
	stream._busy_conn = false
	if conn._current == stream then conn._current = nil end
	local busy = conn._busy - 1
	conn._busy = busy
	if busy == 0 and conn._onidle then conn._onidle(conn) end
end

local function run_handler(self, stream)
	self.onstream(self, stream)
	stream:shutdown()
	finished(stream)
end

-- The notifier fired: start a handler for every request that arrived.
local function dispatch(self)
	local batch = self._batch
	local n, nerrors = self._ud:take(batch)
	if nerrors > 0 then
		-- Clients' protocol errors (answered 400/431/505 already) concern only a custom onerror.
		local errors = {}
		for i = 1, self._ud:take_errors(errors) do
			if self._onerror ~= default_onerror then report(self, self, "serve", errors[i]) end
		end
	end
	for i = 1, n do
		local ud, conn = batch[2 * i - 1], batch[2 * i]
		batch[2 * i - 1], batch[2 * i] = nil, nil
		conn = connection_of(self, ud, conn)
		conn._busy = (conn._busy or 0) + 1
		local stream = wrap_stream(ud, conn, not self.cq)
		stream._busy_conn = conn
		conn._current = stream
		if self.cq then
			self.cq:wrap(run_handler, self, stream)
		else
			spawn(self._handler_error, stream, run_handler, self, stream)
		end
	end
end

local function new(options)
	if type(options) ~= "table" then error("http.server: options table expected", 2) end
	if type(options.onstream) ~= "function" then error("http.server: .onstream function expected", 2) end
	local self = setmetatable({
		_ud = core.server.new(options),
		onstream = options.onstream,
		_onerror = options.onerror or default_onerror,
		_errors = {},
		_conns = setmetatable({}, { __mode = "v" }),
		_batch = {},
		_closed = false,
		_paused = false,
		cq = options.cq,
	}, server_mt)
	-- An onstream that raised: finish its response (503 if none yet), tell onerror.
	self._handler_error = function(err, stream)
		stream:shutdown()
		report(self, stream, "onstream", err)
		finished(stream)
	end
	if self.cq == nil and package.loaded.cqueues then
		-- The program uses cqueues: run handlers under a controller so cqueues calls inside
		-- them suspend only their own request.
		self.cq = package.loaded.cqueues.new()
	end
	return self
end

function server_methods:onerror(handler)
	local old = self._onerror
	if handler ~= nil then self._onerror = handler end
	return old
end

-- Start running handlers for the requests Rust queues (once).
local function start_dispatch(self)
	if self._dispatching then return end
	self._dispatching = true
	subscribe(self._ud:notifier(), function() dispatch(self) end)
	if self.cq then
		-- Hand our completions to cqueues: inside its controller, pump lets cqueues sleep.
		self.cq:wrap(function()
			while not self._closed do pump() end
		end)
	end
end

function server_methods:listen()
	if not self._listening then
		local ok, err, errno = self._ud:listen()
		if not ok then return nil, err, errno end
		self._listening = true
		start_dispatch(self)
	end
	return true
end

-- A connected socket: ours (take_socket), or from elsewhere (cqueues, luasocket, an fd), then
-- the server serves a duplicate of its fd, so the caller may close its own.
function server_methods:add_socket(socket)
	local ok, err, errno = self._ud:add_socket(socket)
	if not ok then return nil, err, errno end
	start_dispatch(self)
	return true
end

function server_methods:localname()
	return self._ud:localname()
end

-- pause/resume/close are mirrored in fields: loop checks them on every step.
function server_methods:pause()
	self._ud:pause()
	self._paused = true
	return true
end

function server_methods:resume()
	self._ud:resume()
	self._paused = false
	return true
end

function server_methods:close()
	self._ud:close()
	self._closed = true
	subscribe(self._ud:notifier(), nil)
	return true
end

function server_methods:pollfd()
	if self.cq then return self.cq:pollfd() end
	return core.pollfd()
end

function server_methods:events()
	return "r"
end

function server_methods:timeout()
	if self.cq then return self.cq:timeout() end
	if core.pending() > 0 then return 0 end
	return nil
end

function server_methods:connections()
	return self._ud:connections()
end

function server_methods:empty()
	return self._closed and self._ud:connections() == 0
end

local function raise_pending(self)
	if self._errors[1] ~= nil then error(table.remove(self._errors, 1), 0) end
end

function server_methods:step(timeout)
	local ok, err, errno = self:listen()
	if not ok then return nil, err, errno end
	raise_pending(self)
	if self.cq then
		local cok, cerr, _, co = self.cq:step(timeout)
		if not cok then report(self, co, "onstream", cerr) end
	else
		local sok, serr = pump(timeout)
		if not sok then report(self, self, "step", serr) end
	end
	raise_pending(self)
	return true
end

function server_methods:loop(timeout)
	local deadline = timeout and monotime() + timeout
	while not self._closed and not self._paused do
		local left = deadline and deadline - monotime()
		if left and left <= 0 then break end
		local ok, err, errno = self:step(left)
		if not ok then return nil, err, errno end
	end
	return true
end

function server_methods:add_stream(stream)
	spawn(self._handler_error, stream, run_handler, self, stream)
	return true
end

return {
	new = new,
	listen = new,
	mt = server_mt,
}
