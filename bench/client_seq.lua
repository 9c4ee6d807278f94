-- Sequential GETs with http.request, lua-http style (the same script runs on ours and on the
-- original):  lua client_seq.lua URL N
-- Prints "<requests> <seconds>" after checking every answer.
local http_request = require "http.request"
local monotime = require "cqueues".monotime

local url, n = arg[1], assert(tonumber(arg[2]), "usage: client_seq.lua URL N")
local expect
local t0 = monotime()
for _ = 1, n do
	local headers, stream = assert(http_request.new_from_uri(url):go(10))
	local body = assert(stream:get_body_as_string(10))
	assert(headers:get(":status") == "200")
	expect = expect or body
	assert(body == expect and #body > 0)
end
print(n, monotime() - t0)
