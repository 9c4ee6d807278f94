-- http.socks: lua-http's SOCKS5 client. Rust (src/socks.rs) parses the URI, connects and runs
-- the handshake; this file keeps `needs_resolve` as a plain field (lua-http users may set it)
-- and waits for negotiate.
local core = require "http.core"

local S = core.socks
local await = core.await

local methods = {}
local mt = { __name = "http.socks", __index = methods }

local function wrap(ud, needs_resolve)
	return setmetatable({ _ud = ud, needs_resolve = needs_resolve }, mt)
end

local function connect(uri)
	return wrap(S.connect(uri))
end

-- Our http.socket (taken over), or a cqueues/luasocket socket (a duplicate of its fd, so the
-- caller may close its own object).
local function fdopen(socket)
	local ud, err, errno = S.fdopen(socket)
	if not ud then return nil, err, errno end
	return wrap(ud, false)
end

function methods:clone()
	return wrap(S.clone(self._ud), self.needs_resolve)
end

function methods:add_username_password_auth(username, password)
	return S.add_username_password_auth(self._ud, username, password)
end

function methods:negotiate(host, port, timeout)
	return await(S.negotiate(self._ud, host, port, self.needs_resolve and true or false, timeout))
end

function methods:close()
	return S.close(self._ud)
end

function methods:take_socket()
	return S.take_socket(self._ud)
end

return {
	connect = connect,
	fdopen = fdopen,
}
