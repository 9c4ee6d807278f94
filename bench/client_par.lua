-- GETs with C requests in flight (C cqueues workers, lua-http style; the same script runs on
-- ours and on the original):  lua client_par.lua URL N C
-- Prints "<requests> <seconds>" after checking every answer.
local http_request = require "http.request"
local cqueues = require "cqueues"

local url, n, c = arg[1], tonumber(arg[2]), tonumber(arg[3])
assert(url and n and c, "usage: client_par.lua URL N C")
local cq = cqueues.new()
local left, done = n, 0
for _ = 1, c do
	cq:wrap(function()
		while left > 0 do
			left = left - 1
			local headers, stream = assert(http_request.new_from_uri(url):go(10))
			assert(#assert(stream:get_body_as_string(10)) > 0)
			assert(headers:get(":status") == "200")
			done = done + 1
		end
	end)
end
local t0 = cqueues.monotime()
assert(cq:loop())
assert(done == n, done)
print(n, cqueues.monotime() - t0)
