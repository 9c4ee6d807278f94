-- http.websocket: the opening handshake (header checks, negotiation, the 101) is here, over
-- http.server streams and http.request; the connection itself runs in Rust
-- (src/websocket/), which this file calls through core.await.
local core = require "http.core"
local new_headers = require "http.headers".new
local http_request = require "http.request"

local W = core.websocket
local wait, cqueues_running = core.wait, core.cqueues_running
local receive, send, ready_state = W.receive, W.send, W.ready_state
local EINVAL, ENOTCONN = 22, 107

local methods = {
	-- seconds to wait for the peer's close frame after sending ours
	close_timeout = 3,
	-- largest message accepted (bytes; nil: no limit); a larger one is refused with close code 1009
	max_message_size = 64 * 1024 * 1024,
}
local mt = { __name = "http.websocket", __index = methods }

function mt:__tostring()
	return string.format("http.websocket{type=%q;readyState=%d}", self.type, self.readyState)
end

-- A Rust call's results, or (given `nil, token`) what the token ends with: the same values
-- lua-http returns, no more.
local function await(...)
	local a, b = ...
	if a == nil and type(b) == "userdata" then return wait(b) end
	return ...
end

local function not_connected(op)
	return nil, op .. ": Transport endpoint is not connected", ENOTCONN
end

-- The comma-separated tokens of a header, lower-cased when `lower` (nil if it is absent).
local function tokens(headers, name, lower)
	if not headers:has(name) then return nil end
	local list, set = {}, {}
	for item in headers:get_comma_separated(name):gmatch("[^,]+") do
		item = item:match("^[ \t]*(.-)[ \t]*$")
		if lower then item = item:lower() end
		if item ~= "" then
			list[#list + 1] = item
			set[item] = true
		end
	end
	return list, set
end

local function is_token(s)
	return s:find("^[!#$%%&'*+%-.^_`|~%w]+$") ~= nil
end

-- A server websocket for the upgrade request `headers` on `stream`, or nil, message, EINVAL if
-- the request is not a websocket upgrade. Nothing is sent: handlers may try it on any request.
local function new_from_stream(stream, headers)
	local connection = stream.connection
	if connection == nil or connection.type ~= "server" then
		error("new_from_stream: a server stream expected", 2)
	end
	if connection.version ~= 1.1 then
		if connection.version == 1.0 then
			return nil, "upgrade headers MUST be ignored in HTTP 1.0", EINVAL
		end
		return nil, "websockets are only supported over HTTP/1.1", EINVAL
	end
	local _, upgrade = tokens(headers, "upgrade", true)
	if not (upgrade and upgrade.websocket) then
		return nil, "upgrade header not websocket", EINVAL
	end
	local _, conn = tokens(headers, "connection", true)
	if not (conn and conn.upgrade) then
		return nil, "connection header doesn't contain upgrade", EINVAL
	end
	if headers:get(":method") ~= "GET" then
		return nil, "websocket upgrade requires a GET request", EINVAL
	end
	local key = headers:get("sec-websocket-key")
	if key == nil or key == "" then
		return nil, "missing sec-websocket-key", EINVAL
	end
	if headers:get("sec-websocket-version") ~= "13" then
		return nil, "unsupported sec-websocket-version", EINVAL
	end
	local offered = {}
	local protocols = tokens(headers, "sec-websocket-protocol", false)
	if protocols then
		for _, p in ipairs(protocols) do
			if not is_token(p) then return nil, "invalid sec-websocket-protocol header", EINVAL end
			offered[p] = true
		end
	end
	return setmetatable({
		type = "server",
		readyState = 0,
		stream = stream,
		request_headers = headers,
		_key = key,
		_offered = offered,
	}, mt)
end

-- A client websocket for `uri` (ws:// or wss://), offering `protocols` (a list) to the server.
-- The opening handshake is an http.request (so TLS, proxies, cookies and HSTS apply), kept in
-- .request for changes (headers, ctx, proxy ...) before connect().
local function new_from_uri(uri, protocols)
	if type(uri) ~= "string" then error("new_from_uri: uri must be a string", 2) end
	local scheme, rest = uri:match("^(%a[%w+.-]*)(:.*)$")
	scheme = scheme and scheme:lower()
	if scheme ~= "ws" and scheme ~= "wss" then error("new_from_uri: scheme not valid", 2) end
	local offered = {}
	if protocols ~= nil then
		if type(protocols) ~= "table" then error("new_from_uri: protocols must be a list", 2) end
		for _, p in ipairs(protocols) do
			if type(p) ~= "string" or not is_token(p) or offered[p] then
				error("new_from_uri: invalid or repeated protocol " .. tostring(p), 2)
			end
			offered[p] = true
		end
	end
	local ok, request = pcall(http_request.new_from_uri, (scheme == "wss" and "https" or "http") .. rest)
	if not ok then error("new_from_uri: " .. tostring(request):gsub("^.-:%d+: ", ""), 2) end
	request.version = 1.1
	local key = W.new_key()
	local h = request.headers
	h:append("upgrade", "websocket")
	h:append("connection", "upgrade")
	h:append("sec-websocket-key", key)
	h:append("sec-websocket-version", "13")
	if protocols and protocols[1] then h:append("sec-websocket-protocol", table.concat(protocols, ", ")) end
	return setmetatable({
		type = "client",
		readyState = 0,
		request = request,
		key = key,
		_offered = offered,
	}, mt)
end

-- Run the connection over `sock` (the upgraded socket).
function methods:_open(sock, client)
	local ud, err, errno = W.new(sock, client, self.max_message_size, self.close_timeout)
	if not ud then return nil, err, errno end
	self._ud = ud
	self.readyState = 1
	return true
end

local function deadline_of(timeout)
	return timeout and core.monotime() + timeout
end

local function left(deadline)
	return deadline and deadline - core.monotime()
end

function methods:accept(options, timeout)
	if self.type ~= "server" or self.readyState ~= 0 then
		error("accept: a server websocket from new_from_stream expected", 2)
	end
	options = options or {}
	local deadline = deadline_of(timeout)
	local h = options.headers and options.headers:clone() or new_headers()
	h:upsert(":status", "101")
	h:upsert("upgrade", "websocket")
	h:upsert("sec-websocket-accept", W.accept_key(self._key))
	-- the first of the server's protocols that the client offered
	if options.protocols then
		for _, p in ipairs(options.protocols) do
			if self._offered[p] then
				self.protocol = p
				h:upsert("sec-websocket-protocol", p)
				break
			end
		end
	end
	h:upsert("connection", "upgrade")
	local stream = self.stream
	local ok, err, errno = stream:write_headers(h, false, timeout)
	if not ok then return nil, err, errno end
	local sock
	sock, err, errno = stream:take_socket(left(deadline))
	if not sock then return nil, err, errno end
	return self:_open(sock, false)
end

-- Why a server's answer to our upgrade request is not a websocket handshake, or nil.
local function bad_answer(self, h)
	if h:get(":status") ~= "101" then return "server did not switch protocols (status " .. tostring(h:get(":status")) .. ")" end
	local _, upgrade = tokens(h, "upgrade", true)
	if not (upgrade and upgrade.websocket) then return "upgrade header not websocket" end
	local _, conn = tokens(h, "connection", true)
	if not (conn and conn.upgrade) then return "connection header doesn't contain upgrade" end
	if h:get("sec-websocket-accept") ~= W.accept_key(self.key) then return "sec-websocket-accept header incorrect" end
	if h:has("sec-websocket-extensions") then return "server selected an extension we did not offer" end
	local protocol = h:get("sec-websocket-protocol")
	if protocol ~= nil and not self._offered[protocol] then return "server selected a protocol we did not offer" end
	self.protocol = protocol
end

function methods:connect(timeout)
	if self.type ~= "client" or self.readyState ~= 0 then
		error("connect: a client websocket from new_from_uri expected", 2)
	end
	local deadline = deadline_of(timeout)
	local h, stream, errno = self.request:go(timeout)
	if not h then return nil, stream, errno end
	local err = bad_answer(self, h)
	if err then
		stream:shutdown()
		stream.connection:close()
		return nil, err, EINVAL
	end
	local sock
	sock, err, errno = stream:take_socket(left(deadline))
	if not sock then return nil, err, errno end
	return self:_open(sock, true)
end

-- Where a generic-for cannot yield (Lua 5.1), each() waits by pumping the scheduler (other
-- coroutines keep running) instead of suspending.
local for_can_yield, wait_pumping = core.for_can_yield, core.wait_pumping

-- Rust gives a message's opcode as 1 or 2.
local OPCODE_NAMES = { "text", "binary" }
local OPCODES = { text = 1, binary = 2 }
local loaded = package.loaded

-- An untimed receive parks when nothing is there: Rust arms the websocket's notifier and the
-- websocket itself is waited on like a token, so a wait costs no task, timer or token (see
-- src/websocket/mod.rs). Timed receives, a second receiver, and coroutines that cqueues runs
-- (it polls a token's own fd) get a token.
local function receive_any(self, ud, timeout, pump)
	if timeout == nil and not self._parked and (loaded.cqueues == nil or not cqueues_running()) then
		local a, b, c = receive(ud, nil, true)
		if a == nil and type(b) == "number" then
			-- parked: b is the id of the notifier that fires when receive can answer
			self._parked = true
			repeat
				if pump then
					a, b, c = wait_pumping(ud)
				else
					a, b, c = wait(ud, b)
				end
				-- false: another receiver took what woke us; arm again
				if a == false then a, b, c = receive(ud, nil, true) end
			until not (a == nil and type(b) == "number")
			self._parked = nil
		end
		return a, b, c
	end
	local a, b, c = receive(ud, timeout)
	if a == nil and type(b) == "userdata" then
		if pump then return wait_pumping(b) end
		return wait(b)
	end
	return a, b, c
end

function methods:receive(timeout)
	local ud = self._ud
	if ud == nil then return not_connected("receive") end
	local data, opcode, code = receive_any(self, ud, timeout, false)
	if data == nil then
		self.readyState = ready_state(ud)
		return nil, opcode, code
	end
	return data, OPCODE_NAMES[opcode]
end

-- Messages until the connection ends (the end itself, a close or an error, ends the loop).
function methods:each()
	return function()
		local ud = self._ud
		if ud == nil then return nil end
		local data, opcode = receive_any(self, ud, nil, not for_can_yield)
		if data == nil then
			self.readyState = ready_state(ud)
			return nil
		end
		return data, OPCODE_NAMES[opcode]
	end
end

function methods:send(data, opcode, timeout)
	if type(data) ~= "string" then error("send: data must be a string", 2) end
	local ud = self._ud
	if ud == nil then return not_connected("send_frame") end
	local ok, err, errno = send(ud, data, OPCODES[opcode] or opcode, timeout)
	if ok then return ok end
	return await(ok, err, errno)
end

-- frame: { opcode = n, data = "", FIN = bool, RSV1/RSV2/RSV3 = bool, MASK = bool }
function methods:send_frame(frame, timeout)
	if type(frame) ~= "table" then error("send_frame: frame table expected", 2) end
	local ud = self._ud
	if ud == nil then return not_connected("send_frame") end
	local ok, err, errno = W.send_frame(ud, frame, timeout)
	if ok then return ok end
	return await(ok, err, errno)
end

function methods:send_ping(data, timeout)
	return self:send(data or "", 0x9, timeout)
end

function methods:send_pong(data, timeout)
	return self:send(data or "", 0xA, timeout)
end

function methods:close(code, reason, timeout)
	code = code or 1000
	if type(code) ~= "number" or code < 1000 or code > 4999 or code % 1 ~= 0 then
		error("close: code must be an integer from 1000 to 4999", 2)
	end
	if reason ~= nil and type(reason) ~= "string" then error("close: reason must be a string", 2) end
	local ud = self._ud
	if ud == nil then
		self.readyState = 3
		return true
	end
	local ok, err, errno = await(W.close(ud, code, reason, self.close_timeout, timeout))
	self.readyState = ready_state(ud)
	return ok, err, errno
end

return {
	new_from_uri = new_from_uri,
	new_from_stream = new_from_stream,
	methods = methods,
	mt = mt,
}
