-- http.request: lua-http's high-level client. Plain Lua orchestration over http.client (which
-- does the protocol work and pools connections): HSTS, cookies, proxies, 100-continue,
-- redirects, and one deadline for the whole request.
local core = require "http.core"
local http_headers = require "http.headers"
local http_util = require "http.util"
local http_version = require "http.version"

local monotime = core.monotime
local decodeURIComponent = http_util.decodeURIComponent
local encodeURIComponent = http_util.encodeURIComponent
local floor = math.floor

local EPIPE, EINVAL, ELOOP, ECONNRESET, ETIMEDOUT, ECONNREFUSED = 32, 22, 40, 104, 110, 111

local client = require "http.client"
local ACCEPT_ENCODING = "gzip, deflate"
local USER_AGENT = http_version.name .. "/" .. http_version.version
local SAFE_METHODS = { GET = true, HEAD = true, OPTIONS = true, TRACE = true }

-- (the default proxies:choose without any proxy variable set is not called: it says nil)
local default_choose = require "http.proxies".methods.choose

local methods = {
	follow_redirects = true,
	expect_100_timeout = 1,
	max_redirects = 5,
	post301 = false,
	post302 = false,
	is_top_level = true,
	-- shared defaults, as in lua-http
	hsts = require "http.hsts".new_store(),
	proxies = require "http.proxies".new():update(),
	cookie_store = require "http.cookie".new_store(),
}
local mt = { __name = "http.request", __index = methods }

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
	local out = s:gsub("..?.?", function(t)
		local a, b, c = t:byte(1, 3)
		local n = a * 65536 + (b or 0) * 256 + (c or 0)
		local i1, i2, i3, i4 = floor(n / 262144) + 1, floor(n / 4096) % 64 + 1, floor(n / 64) % 64 + 1, n % 64 + 1
		return B64:sub(i1, i1) .. B64:sub(i2, i2) .. (b and B64:sub(i3, i3) or "=") .. (c and B64:sub(i4, i4) or "=")
	end)
	return out
end

local function unbase64(s)
	local out = s:gsub("[^%w+/]", ""):gsub("..?.?.?", function(t)
		local n, k = 0, #t
		for i = 1, 4 do
			n = n * 64 + (i <= k and B64:find(t:sub(i, i), 1, true) - 1 or 0)
		end
		return string.char(floor(n / 65536), floor(n / 256) % 256, n % 256):sub(1, k - 1)
	end)
	return out
end

-- A Basic credential from a URI's (percent-encoded) userinfo.
local function basic(userinfo)
	local user, password = userinfo:match("^([^:]*):?(.*)$")
	return "Basic " .. base64(decodeURIComponent(user) .. ":" .. decodeURIComponent(password))
end

-- The userinfo (percent-encoded) of a Basic credential, or nil.
local function userinfo_of(credential)
	local b64 = credential and credential:match("^[Bb][Aa][Ss][Ii][Cc]%s+(%S+)")
	if not b64 then return nil end
	local user, password = unbase64(b64):match("^([^:]*):?(.*)$")
	if password == "" then return encodeURIComponent(user) end
	return encodeURIComponent(user) .. ":" .. encodeURIComponent(password)
end

-- Parse an absolute URI: scheme, userinfo (or nil), host (lower-cased, without brackets), port
-- (the scheme's default if it has none, else nil), path with query (no fragment); nil if
-- malformed. (src/request.rs)
local parse = core.request.parse_uri
local function parse_uri(uri)
	local scheme, userinfo, host, port, path = parse(uri)
	if not scheme then return nil end
	return scheme, userinfo, host, port or http_util.scheme_to_port[scheme], path
end

-- host:port (IPv6 in brackets), without the port when it is the scheme's default.
local function to_authority(host, port, scheme)
	if host:find(":", 1, true) then host = "[" .. host .. "]" end
	if port == http_util.scheme_to_port[scheme] then return host end
	return host .. ":" .. string.format("%d", port)
end

local function new(host, port, tls, headers)
	return setmetatable({ host = host, port = port, tls = tls, headers = headers }, mt)
end

-- Raise, for the caller's caller, unless argument `n` of `name` is a string.
local function check_string(v, n, name)
	if type(v) ~= "string" then
		error(string.format("bad argument #%d to '%s' (string expected, got %s)", n, name, type(v)), 3)
	end
end

local function new_from_uri(uri)
	check_string(uri, 1, "new_from_uri")
	local scheme, userinfo, host, port, path = parse_uri(uri)
	if not scheme then error("invalid URI", 2) end
	if scheme ~= "http" and scheme ~= "https" then error("scheme not valid", 2) end
	local headers = http_headers.new()
	headers:append(":method", "GET")
	headers:append(":authority", to_authority(host, port, scheme))
	headers:append(":path", path)
	headers:append(":scheme", scheme)
	if userinfo then headers:append("authorization", basic(userinfo)) end
	headers:append("user-agent", USER_AGENT)
	return new(host, port, scheme == "https", headers)
end

-- A request for a CONNECT tunnel to `connect_authority` through the proxy at `uri`.
local function new_connect(uri, connect_authority)
	check_string(uri, 1, "new_connect")
	check_string(connect_authority, 2, "new_connect")
	local scheme, userinfo, host, port, path = parse_uri(uri)
	if not scheme then error("invalid URI", 2) end
	if scheme ~= "http" and scheme ~= "https" then error("scheme not valid", 2) end
	if path ~= "/" then error("a CONNECT request's URI must not have a path", 2) end
	local headers = http_headers.new()
	headers:append(":authority", connect_authority)
	headers:append(":method", "CONNECT")
	if userinfo then headers:append("proxy-authorization", basic(userinfo)) end
	headers:append("user-agent", USER_AGENT)
	return new(host, port, scheme == "https", headers)
end

function methods:clone()
	local c = setmetatable({}, mt)
	for k, v in pairs(self) do c[k] = v end
	c.headers = self.headers:clone()
	if type(self.h2_settings) == "table" then
		local s = {}
		for k, v in pairs(self.h2_settings) do s[k] = v end
		c.h2_settings = s
	end
	return c
end

function methods:to_uri(with_userinfo)
	local headers = self.headers
	local scheme = self.tls and "https" or "http"
	local authority, path, credential
	if headers:get(":method") == "CONNECT" then
		authority, path = to_authority(self.host, self.port, scheme), ""
		credential = with_userinfo and headers:get("proxy-authorization")
	else
		scheme = headers:get(":scheme") or scheme
		authority = headers:get(":authority") or to_authority(self.host, self.port, scheme)
		path = headers:get(":path") or ""
		credential = with_userinfo and headers:get("authorization")
	end
	local userinfo = credential and userinfo_of(credential)
	if userinfo then authority = userinfo .. "@" .. authority end
	return scheme .. "://" .. authority .. path
end

-- Body headers dropped when a redirect turns the request into a body-less GET.
local BODY_HEADERS = { "content-length", "content-type", "content-encoding", "content-language",
	"content-location", "transfer-encoding", "expect" }

function methods:handle_redirect(headers)
	local location = headers:get("location")
	if not location then return nil, "missing location header for redirect", EINVAL end
	if self.max_redirects <= 0 then return nil, "maximum redirects exceeded", ELOOP end
	local old = self.headers
	local old_scheme = old:get(":scheme") or (self.tls and "https" or "http")
	-- Resolve the location against this request's URI (RFC 3986 section 5.2).
	location = location:match("^[^#]*")
	if location:find("[%c ]") then return nil, "invalid URI in location header", EINVAL end
	local scheme, userinfo, host, port, path
	if location:find("^%a[%w+.-]*:") then
		scheme, userinfo, host, port, path = parse_uri(location)
	elseif location:sub(1, 2) == "//" then
		scheme, userinfo, host, port, path = parse_uri(old_scheme .. ":" .. location)
	else
		scheme, host, port = old_scheme, self.host, self.port
		local old_path = old:get(":path") or "/"
		if location == "" then
			path = old_path
		elseif location:sub(1, 1) == "?" then
			path = old_path:match("^[^?]*") .. location
		else
			path = http_util.resolve_relative_path(old_path, location)
		end
	end
	if not scheme then return nil, "invalid URI in location header", EINVAL end
	if scheme ~= "http" and scheme ~= "https" then return nil, "unknown scheme", EINVAL end
	if scheme == "http" and old_scheme == "https" then
		return nil, "refusing to follow a redirect from https to http", EINVAL
	end
	local new_req = self:clone()
	local h = new_req.headers
	new_req.max_redirects = self.max_redirects - 1
	-- credentials are for the original host only
	if host ~= self.host then h:delete("authorization") end
	if host ~= self.host or port ~= self.port or scheme ~= old_scheme then
		new_req.host, new_req.port = host, port
		h:upsert(":authority", to_authority(host, port, scheme))
	end
	if userinfo then h:upsert("authorization", basic(userinfo)) end
	new_req.tls = scheme == "https"
	h:upsert(":scheme", scheme)
	h:upsert(":path", path)
	h:upsert("referer", self:to_uri(false))
	local status, method = headers:get(":status"), h:get(":method")
	if (method == "POST" and ((status == "301" and not self.post301) or (status == "302" and not self.post302)))
		or (status == "303" and method ~= "GET" and method ~= "HEAD") then
		h:upsert(":method", "GET")
		new_req.body = nil
		for i = 1, #BODY_HEADERS do h:delete(BODY_HEADERS[i]) end
	end
	return new_req
end

function methods:set_body(body)
	local headers = self.headers
	local t = type(body)
	if t == "string" then
		headers:upsert("content-length", string.format("%d", #body))
		if #body > 1024 then headers:upsert("expect", "100-continue") end
	elseif t == "function" or io.type(body) == "file" then
		local size = t ~= "function" and body:seek("end")
		if size then
			headers:upsert("content-length", string.format("%d", size))
			body:seek("set")
		else
			headers:delete("content-length")
		end
		headers:upsert("expect", "100-continue")
	else
		error("bad argument #1 to 'set_body' (string, function or file expected, got " .. (io.type(body) or t) .. ")", 2)
	end
	self.body = body
end

-- Seconds left before the deadline (nil: none), never negative.
local function left(deadline)
	if not deadline then return nil end
	local t = deadline - monotime()
	return t > 0 and t or 0
end

local FILE_CHUNK = 64 * 1024

-- The body's last chunk carries the end of the stream (a separate empty one could come after
-- the server has already answered a request whose content-length was reached).
local function write_body(stream, body, deadline)
	if type(body) == "string" then
		return stream:write_chunk(body, true, left(deadline))
	end
	local next_chunk
	if type(body) == "function" then
		next_chunk = body
	else
		assert(body:seek("set"))
		next_chunk = function()
			local data, err = body:read(FILE_CHUNK)
			if err then error(err) end
			return data
		end
	end
	local chunk = next_chunk()
	if chunk == nil then return stream:write_chunk("", true, left(deadline)) end
	while true do
		local following = next_chunk()
		local ok, err, errno = stream:write_chunk(chunk, following == nil, left(deadline))
		if not ok or following == nil then return ok, err, errno end
		chunk = following
	end
end

-- Connection options for http.client, kept per request object while its fields stay the same,
-- and shared with the next request object that asks for the same ones (http.client parses a
-- table once; no table built per request).
local options_of = setmetatable({}, { __mode = "k" })
local last_options

local function same_options(o, req, host, port, tls, version)
	return o and o.host == host and o.port == port and o.tls == tls and o.version == version
		and o.ctx == req.ctx and o.sendname == req.sendname and o.bind == req.bind
		and o.h2_settings == req.h2_settings
end

local function options(req, host, port, tls, version)
	local o = options_of[req]
	if same_options(o, req, host, port, tls, version) then return o end
	o = last_options
	if not same_options(o, req, host, port, tls, version) then
		o = { host = host, port = port, tls = tls, version = version, ctx = req.ctx, sendname = req.sendname,
			bind = req.bind, h2_settings = req.h2_settings }
		last_options = o
	end
	options_of[req] = o
	return o
end

-- A connection to host:port (TLS or not) through an HTTP proxy's CONNECT tunnel.
local function tunnel(req, proxy_options, authorization, host, port, tls, deadline)
	local conn, err, errno = client.connect(proxy_options, left(deadline))
	if not conn then return nil, err, errno end
	local h = http_headers.new()
	h:append(":method", "CONNECT")
	h:append(":authority", to_authority(host, port)) -- with the port, always
	if authorization then h:append("proxy-authorization", authorization) end
	local stream = conn:new_stream()
	local ok
	ok, err, errno = stream:write_headers(h, false, left(deadline))
	local resp = ok and stream:get_headers(left(deadline))
	if not resp then
		conn:close()
		return nil, err, errno
	end
	local status = resp:get(":status")
	if status:sub(1, 1) ~= "2" then
		conn:close()
		return nil, "proxy refused CONNECT with status " .. status, ECONNREFUSED
	end
	local socket = conn:take_socket()
	return client.negotiate(socket, options(req, host, port, tls, req.version), left(deadline))
end

-- A connection to host:port through a SOCKS5 proxy.
local function socks_connect(req, proxy, host, port, tls, deadline)
	local s = require "http.socks".connect(proxy)
	local ok, err, errno = s:negotiate(host, port, left(deadline))
	if not ok then
		s:close()
		return nil, err, errno
	end
	return client.negotiate(s:take_socket(), options(req, host, port, tls, req.version), left(deadline))
end

-- A stream for the request `h` (which may be changed: absolute-form path for a proxy) for
-- `path` (origin-form).
local function open_stream(req, h, path, host, port, tls, deadline)
	local proxy, proxies = req.proxy, req.proxies
	if proxy == nil and proxies and not (proxies.choose == default_choose and proxies.http_proxy == nil
		and proxies.https_proxy == nil and proxies.all_proxy == nil) then
		proxy = proxies:choose(tls and "https" or "http", host)
	end
	if not proxy then
		return client.pooled(options(req, host, port, tls, req.version), left(deadline))
	end
	-- "host:port" (as often found in http_proxy) means an HTTP proxy
	if not proxy:find("://", 1, true) then proxy = "http://" .. proxy end
	local pscheme, puserinfo, phost, pport = parse_uri(proxy)
	if not pscheme then return nil, "invalid proxy URI", EINVAL end
	local conn, err, errno
	if pscheme == "http" or pscheme == "https" then
		local authorization = puserinfo and basic(puserinfo)
		local popts = { host = phost, port = pport, tls = pscheme == "https", version = 1.1 }
		if not tls then
			-- a plain request goes to the proxy with the absolute URI as its target
			h:upsert(":path", "http://" .. h:get(":authority") .. path)
			if authorization then h:upsert("proxy-authorization", authorization) end
			return client.pooled(popts, left(deadline))
		end
		conn, err, errno = tunnel(req, popts, authorization, host, port, tls, deadline)
	elseif pscheme == "socks5" or pscheme == "socks5h" then
		conn, err, errno = socks_connect(req, proxy, host, port, tls, deadline)
	else
		return nil, "unsupported proxy type: " .. pscheme, EINVAL
	end
	if not conn then return nil, err, errno end
	return conn:new_stream()
end

local function is_redirect(status, headers)
	return status:sub(1, 1) == "3" and status ~= "304" and headers:has("location")
end

-- Parse a strict-transport-security value into lua-http's directives table.
local function sts_directives(value)
	local d = {}
	for item in value:gmatch("[^;]+") do
		local name, v = item:match("^%s*([^%s=]+)%s*=?%s*(.-)%s*$")
		if name then
			d[name:lower()] = v:match('^"(.*)"$') or (v ~= "" and v) or true
		end
	end
	return d
end

-- A CONNECT request made with new_connect: the response and the stream (its connection's
-- socket is the tunnel, see connection:take_socket()).
local function go_connect(req, deadline)
	local conn, err, errno = client.connect(options(req, req.host, req.port, req.tls, 1.1), left(deadline))
	if not conn then return nil, err, errno end
	local stream = conn:new_stream()
	local ok
	ok, err, errno = stream:write_headers(req.headers, false, left(deadline))
	if not ok then
		conn:close()
		return nil, err, errno
	end
	local resp
	resp, err, errno = stream:get_headers(left(deadline))
	if not resp then
		conn:close()
		return nil, err, errno
	end
	return resp, stream
end

-- An HTTP/1 request whose body was not sent leaves its connection unusable: read the (short)
-- answer to its end, close the connection so that the pool does not hand it out again, and
-- put the answer back for the caller to read.
local function retire(stream, deadline)
	local parts, total = {}, 0
	while total <= 65536 do
		local chunk, err = stream:get_next_chunk(left(deadline))
		if chunk == nil then
			if err == nil then stream.connection:close() end
			break
		end
		parts[#parts + 1] = chunk
		total = total + #chunk
	end
	if parts[1] then stream:unget(table.concat(parts)) end
end

-- Send the request `h` on a new stream and read the response head (after any 100 Continue).
-- Returns the head and the stream, or nil, nil, err, errno and whether the request can be sent
-- again (its head could not be sent: a kept-alive connection the server had closed).
local function exchange(req, h, path, host, port, tls, decode, body, deadline)
	local stream, err, errno = open_stream(req, h, path, host, port, tls, deadline)
	if not stream then return nil, nil, err, errno end
	if decode then stream:decode_content() end
	local resp, ok
	ok, err, errno = stream:write_headers(h, body == nil, left(deadline))
	if not ok then
		stream:shutdown()
		return nil, nil, err, errno, errno == EPIPE or errno == ECONNRESET
	end
	if body ~= nil then
		-- (over HTTP/2 the body goes at once: a refusal there just resets the stream)
		if h:get("expect") == "100-continue" and stream.connection.version ~= 2 then
			local t, l = req.expect_100_timeout, left(deadline)
			if l and l < t then t = l end
			resp, err, errno = stream:get_headers(t)
			if resp then
				-- a final answer before the body (e.g. 417): the body is not sent
				local status = resp:get(":status")
				if status:sub(1, 1) == "1" and status ~= "101" then
					resp = nil
				else
					retire(stream, deadline)
				end
			elseif errno ~= ETIMEDOUT then
				ok = false
			end
		end
		if ok and not resp then
			ok, err, errno = write_body(stream, body, deadline)
		end
	end
	while ok do
		if not resp then resp, err, errno = stream:get_headers(left(deadline)) end
		if not resp then break end
		local status = resp:get(":status")
		-- informational answers (other than 101) come before the real one
		if status:sub(1, 1) ~= "1" or status == "101" then return resp, stream end
		resp = nil
	end
	stream:shutdown()
	return nil, nil, err, errno
end

-- One request/response, without following redirects.
local function go_once(req, deadline)
	local headers = req.headers
	if headers:get(":method") == "CONNECT" then return go_connect(req, deadline) end
	local host, port, tls = req.host, req.port, req.tls
	local h = headers:clone()
	if not tls and req.hsts and req.hsts:check(host) then
		tls = true
		if port == 80 then
			port = 443
			h:upsert(":authority", (h:get(":authority"):gsub(":80$", "")))
		end
		h:upsert(":scheme", "https")
	end
	local store = req.cookie_store
	if store then
		local method = h:get(":method")
		local cookie = store:lookup(host, h:get(":path"):match("^[^?]*"), true, tls, SAFE_METHODS[method] or false,
			req.site_for_cookies, req.is_top_level)
		if cookie ~= "" then
			local old = h:get("cookie")
			h:upsert("cookie", old and old .. "; " .. cookie or cookie)
		end
	end
	local decode = not h:has("accept-encoding")
	if decode then h:append("accept-encoding", ACCEPT_ENCODING) end
	local path = h:get(":path")

	local body = req.body
	local resp, stream, err, errno, again = exchange(req, h, path, host, port, tls, decode, body, deadline)
	if again then
		resp, stream, err, errno = exchange(req, h, path, host, port, tls, decode, body, deadline)
	end
	if not resp then return nil, err, errno end
	local status = resp:get(":status")

	if tls and req.hsts then
		local sts = resp:get("strict-transport-security")
		if sts then req.hsts:store(host, sts_directives(sts)) end
	end
	if store and resp:has("set-cookie") then
		h:upsert(":path", path) -- origin-form, even when the request went to a proxy
		store:store_from_request(h, resp, host, req.site_for_cookies)
	end
	return resp, stream, status
end

-- Read a short (redirect) body to its end, so that its kept-alive connection can be reused.
local function drain(stream, deadline)
	local total = 0
	while total <= 65536 do
		local chunk, err = stream:get_next_chunk(left(deadline))
		if chunk == nil then return err == nil end
		total = total + #chunk
	end
	return false
end

function methods:go(timeout)
	local deadline = timeout and monotime() + timeout
	local req = self
	while true do
		local resp, stream, status = go_once(req, deadline)
		if not resp then return nil, stream, status end
		if not (req.follow_redirects and status and is_redirect(status, resp)) then
			return resp, stream
		end
		local err, errno
		req, err, errno = req:handle_redirect(resp)
		if not (req and drain(stream, deadline)) then stream:shutdown() end
		if not req then return nil, err, errno end
	end
end

return {
	new_from_uri = new_from_uri,
	new_connect = new_connect,
	methods = methods,
	mt = mt,
}
