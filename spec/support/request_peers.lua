-- Peers for the http.request and compat specs: processes that print their port first (python
-- servers under spec/support/), free ports, and waiting until something listens.
local support = require "spec.support"
local client = require "http.client"

local M = {}

-- Start `cmd` (its first output line is its port); returns the port and the job.
function M.start(cmd)
	local job = support.spawn(cmd)
	local deadline = support.now() + 10
	while not job:out():match("%d+\n") do
		assert(not job:done(), "peer exited: " .. job:err())
		assert(support.now() < deadline, "peer did not start: " .. job:err())
		support.sleep(0.05)
	end
	return tonumber(job:out():match("(%d+)")), job
end

-- One of the python peers in spec/support/ (request_server.py, request_h2_server.py).
function M.python(script, args)
	return M.start("python3 " .. support.root .. "/spec/support/" .. script .. " " .. (args or ""))
end

function M.free_port()
	local p = assert(io.popen("python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'"))
	local port = tonumber(p:read("*l"))
	p:close()
	return port
end

-- Wait until something accepts connections on 127.0.0.1:port.
function M.wait_listening(port)
	local deadline = support.now() + 10
	while true do
		local conn = client.connect({ host = "127.0.0.1", port = port }, 1)
		if conn then
			conn:close()
			return
		end
		assert(support.now() < deadline, "nothing listens on port " .. port)
		support.sleep(0.05)
	end
end

return M
