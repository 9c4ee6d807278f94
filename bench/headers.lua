-- One http.headers workload, timed with os.clock: create an object, append 10 typical request
-- fields, read each back with get(), walk them with each(). Prints "<impl> <iterations/s>",
-- impl being "ours" (userdata from http.core) or "original" (lua-http's pure-Lua tables), so
-- the caller can check which module the paths gave it.
--   lua bench/headers.lua [iterations]
local http_headers = require "http.headers"
local n = tonumber(arg and arg[1]) or 100000

local names = { ":method", ":scheme", ":authority", ":path", "user-agent", "accept",
	"accept-encoding", "accept-language", "cookie", "content-length" }
local values = { "GET", "https", "example.com", "/index.html?q=1", "bench/1.0", "*/*",
	"gzip, deflate", "en-GB,en;q=0.8", "session=0123456789abcdef", "1234" }

local function once()
	local h = http_headers.new()
	for j = 1, 10 do
		h:append(names[j], values[j])
	end
	for j = 1, 10 do
		local _ = h:get(names[j])
	end
	for _, _, _ in h:each() do -- luacheck: ignore
	end
end

local function run(count)
	local t0 = os.clock()
	for _ = 1, count do
		once()
	end
	return os.clock() - t0
end

run(math.ceil(n / 10)) -- warm up (and let LuaJIT compile)
local best = math.huge
for _ = 1, 3 do
	best = math.min(best, run(n))
end
local impl = type(http_headers.new()) == "userdata" and "ours" or "original"
print(impl, string.format("%.0f", n / best))
