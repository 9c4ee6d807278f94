-- http.client: connections to servers (src/client/). Connections and their streams have
-- lua-http's interfaces; `pooled` (our extension, used by http.request) hands out streams on
-- kept-alive connections that later requests reuse.
local core = require "http.core"
local stream_common = require "http.stream_common"

local C = core.client
local await = core.await
local EINVAL = 22

local methods = {}
local mt = { __name = "http.client.connection", __index = methods }

local function wrap(ud)
	return setmetatable({ _ud = ud, type = "client", version = ud:version() }, mt)
end

function methods:new_stream()
	local stream = stream_common.wrap(self._ud:new_stream(), self, false)
	self._last = stream
	return stream
end

function methods:connect() return true end
function methods:flush() return true end
function methods:localname() return self._ud:localname() end
function methods:peername() return self._ud:peername() end
function methods:checktls() return self._ud:checktls() end
function methods:pollfd() return core.pollfd() end
function methods:events() return "r" end
function methods:timeout() return nil end

function methods:onidle(handler)
	local old = self._onidle
	if handler ~= nil then self._onidle = handler end
	return old
end

-- HTTP/1: after a 101, or a 2xx answer to CONNECT, the connection's socket (for negotiate,
-- or a websocket).
function methods:take_socket()
	local stream = self._last
	if not stream then return nil, "no request on this connection", EINVAL end
	return stream:take_socket()
end

function methods:close()
	self._ud:close()
	return true
end
methods.shutdown = methods.close

local function check_options(options, name)
	if type(options) ~= "table" then error("http.client." .. name .. ": options table expected", 3) end
end

local function connect(options, timeout)
	check_options(options, "connect")
	local ud, err, errno = await(C.connect(options, timeout))
	if not ud then return nil, err, errno end
	return wrap(ud)
end

-- `socket`: ours (from take_socket), or a cqueues/luasocket socket (served by a duplicate of
-- its fd).
local function negotiate(socket, options, timeout)
	check_options(options, "negotiate")
	local ud, err, errno = await(C.negotiate(socket, options, timeout))
	if not ud then return nil, err, errno end
	return wrap(ud)
end

-- One wrapper per pooled connection, while its streams live.
local pooled_conns = setmetatable({}, { __mode = "v" })
-- options table -> its parsed form (pooled's callers never change a table they passed). TLS
-- options are parsed on every call: their context may have changed since.
local parsed = setmetatable({}, { __mode = "k" })

local function pooled(options, timeout)
	check_options(options, "pooled")
	local opts = parsed[options]
	if not opts then
		opts = options
		if not options.tls then
			opts = C.pool_options(options)
			parsed[options] = opts
		end
	end
	local ud, id, conn = await(C.pooled(opts, timeout, pooled_conns))
	if not ud then return nil, id, conn end
	if type(conn) ~= "table" then
		conn = wrap(conn)
		pooled_conns[id] = conn
	end
	local stream = stream_common.wrap(ud, conn, false)
	conn._last = stream
	return stream
end

return {
	connect = connect,
	negotiate = negotiate,
	pooled = pooled,
	mt = mt,
}
