-- http.compat.prosody: prosody's net.http request(url, ex, callback) over http.request. The
-- request runs in a new coroutine of the cqueues controller the caller runs in.
local http_request = require "http.request"
local fields = require "http.compat.fields"

local function response_of(headers, body, version)
	return {
		code = tonumber(headers:get(":status")),
		headers = fields(headers),
		body = body,
		httpversion = version == 2 and "2" or version == 1.0 and "1.0" or "1.1",
	}
end

local function request(url, ex, callback)
	local cqueues = package.loaded.cqueues or require "cqueues"
	local cq = cqueues.running()
	if not cq then error("must be running inside a cqueue", 2) end
	if type(callback) ~= "function" then
		error("bad argument #3 to 'request' (function expected, got " .. type(callback) .. ")", 2)
	end
	local req = http_request.new_from_uri(url)
	local h = req.headers
	ex = ex or {}
	if ex.body ~= nil then
		h:upsert(":method", "POST")
		h:upsert("content-type", "application/x-www-form-urlencoded")
		req:set_body(ex.body)
	end
	if ex.method then h:upsert(":method", ex.method) end
	if ex.headers then
		for name, value in pairs(ex.headers) do
			name = name:lower()
			h:upsert(name == "host" and ":authority" or name, tostring(value))
		end
	end
	cq:wrap(function()
		local headers, stream = req:go()
		local body, err
		if headers then
			body, err = stream:get_body_as_string()
		else
			err = stream
		end
		if body == nil then
			callback(tostring(err), 0, req)
		else
			local connection = stream.connection
			callback(body, tonumber(headers:get(":status")), response_of(headers, body, connection and connection.version), req)
		end
	end)
	return req
end

return { request = request }
