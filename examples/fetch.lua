-- Fetch a URL and print the status, the response headers and the body:
--   lua examples/fetch.lua URL [TIMEOUT]
-- Redirects are followed, cookies and HSTS kept for the run, gzip/deflate bodies decoded, and
-- the http_proxy/https_proxy/no_proxy environment variables obeyed.
local http_request = require "http.request"

local url = arg[1]
if not url then
	io.stderr:write("usage: fetch.lua URL [TIMEOUT]\n")
	os.exit(2)
end

local headers, stream, errno = http_request.new_from_uri(url):go(tonumber(arg[2]) or 30)
if not headers then
	io.stderr:write(string.format("%s: %s (errno %s)\n", url, stream, tostring(errno)))
	os.exit(1)
end
print(headers:get(":status"))
for name, value in headers:each() do
	if name:sub(1, 1) ~= ":" then print(name .. ": " .. value) end
end
print()
local body, err = stream:get_body_as_string()
if not body then
	io.stderr:write("reading the body: " .. tostring(err) .. "\n")
	os.exit(1)
end
io.write(body)
