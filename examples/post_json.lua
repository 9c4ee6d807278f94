-- POST a JSON document and print the reply's status and body:
--   lua examples/post_json.lua URL ['{"any": "json"}']
local http_request = require "http.request"

local url = arg[1]
if not url then
	io.stderr:write("usage: post_json.lua URL [JSON]\n")
	os.exit(2)
end
local json = arg[2] or '{"name": "lua-http", "fast": true}'

local req = http_request.new_from_uri(url)
req.headers:upsert(":method", "POST")
req.headers:upsert("content-type", "application/json")
req.headers:upsert("accept", "application/json")
req:set_body(json)

local headers, stream, errno = req:go(30)
if not headers then
	io.stderr:write(string.format("%s: %s (errno %s)\n", url, stream, tostring(errno)))
	os.exit(1)
end
local body = assert(stream:get_body_as_string())
print(headers:get(":status") .. " " .. (headers:get("content-type") or ""))
print(body)
