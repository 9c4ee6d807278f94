-- http.compat.socket: luasocket's http.request (the string and the table form) over
-- http.request. ltn12 is not needed: sinks, sources and steps are plain functions.
local http_request = require "http.request"
local reason_phrases = require "http.h1_reason_phrases"
local fields = require "http.compat.fields"

local M = {
	TIMEOUT = 60,
	USERAGENT = require "http.version".name .. "/" .. require "http.version".version
		.. " (luasocket compatibility layer)",
}

-- luasocket's words for the common failures
local ERRORS = { [110] = "timeout", [111] = "connection refused", [104] = "closed", [32] = "closed" }

local function fail(err, errno)
	return nil, ERRORS[errno] or err
end

-- ltn12.pump.step
local function default_step(source, sink)
	local chunk, src_err = source()
	local ret, sink_err = sink(chunk, src_err)
	if chunk and ret then return 1 end
	return nil, src_err or sink_err
end

-- Build and run the request; returns the response headers, stream and luasocket's
-- (code, headers, status), or nil and an error.
local function perform(url, method, headers, body, proxy, redirect)
	local ok, req = pcall(http_request.new_from_uri, url)
	if not ok then return nil, (tostring(req):gsub("^[^:]*:%d+: ", "")) end
	local h = req.headers
	h:upsert("user-agent", M.USERAGENT)
	if method then h:upsert(":method", method) end
	if headers then
		for name, value in pairs(headers) do
			name = name:lower()
			if name == "host" then
				h:upsert(":authority", value)
			else
				h:upsert(name, tostring(value))
			end
		end
	end
	if body ~= nil then
		local length = h:get("content-length")
		req:set_body(body)
		-- a source's length is what the caller said it is (luasocket sends it as given)
		if length then h:upsert("content-length", length) end
	end
	if proxy ~= nil then req.proxy = proxy end
	if redirect ~= nil then req.follow_redirects = redirect end
	local resp, stream, errno = req:go(M.TIMEOUT)
	if not resp then return fail(stream, errno) end
	local code = tonumber(resp:get(":status"))
	local version = stream.connection and stream.connection.version or 1.1
	local status = string.format("HTTP/%s %d %s", version == 2 and "2" or version == 1.0 and "1.0" or "1.1",
		code, reason_phrases[resp:get(":status")] or "")
	return stream, code, fields(resp), status
end

local function request_string(url, body)
	local headers
	if body ~= nil then
		headers = { ["content-type"] = "application/x-www-form-urlencoded" }
	end
	local stream, code, headers_t, status = perform(url, body and "POST", headers, body)
	if not stream then return nil, code end
	local text, err, errno = stream:get_body_as_string(M.TIMEOUT)
	if not text then return fail(err, errno) end
	return text, code, headers_t, status
end

local function request_table(reqt)
	if reqt.create then error("'create' option not supported", 3) end
	if type(reqt.url) ~= "string" then error("bad argument #1 to 'request' (url expected)", 3) end
	local body = reqt.source
	if body then
		local source = body
		body = function()
			local chunk, err = source()
			if chunk == nil and err then error(err, 0) end
			return chunk
		end
	end
	local stream, code, headers, status = perform(reqt.url, reqt.method, reqt.headers, body, reqt.proxy, reqt.redirect)
	if not stream then return nil, code end
	local sink, step = reqt.sink or function() return 1 end, reqt.step or default_step
	local function source()
		local chunk, err, errno = stream:get_next_chunk(M.TIMEOUT)
		if chunk == nil and err then return nil, ERRORS[errno] or err end
		return chunk
	end
	while true do
		local ok, err = step(source, sink)
		if not ok then
			if err then return nil, err end
			break
		end
	end
	return 1, code, headers, status
end

function M.request(reqt, body)
	if type(reqt) == "string" then return request_string(reqt, body) end
	if type(reqt) ~= "table" then
		error("bad argument #1 to 'request' (string or table expected, got " .. type(reqt) .. ")", 2)
	end
	return request_table(reqt)
end

return M
