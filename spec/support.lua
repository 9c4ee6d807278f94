-- Helpers for the server specs: run clients (curl, python) as background processes, pump the
-- server in this process until they finish, and clean up every process by its id.
local core = require "http.core"
local http_server = require "http.server"
local http_headers = require "http.headers"

local M = {}

M.root = debug.getinfo(1, "S").source:match("^@(.*)/spec/support%.lua$") or "."
M.now = core.monotime

-- The interpreter running this process (the most negative index of arg).
function M.interpreter()
	local i = -1
	while arg[i - 1] do i = i - 1 end
	return arg[i]
end

function M.quote(s)
	return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- true when the shell command succeeds (os.execute differs between 5.1 and 5.2+)
function M.sh(cmd)
	local r = os.execute(cmd)
	return r == true or r == 0
end

local dir
local function tmpdir()
	if not dir then
		local p = assert(io.popen("mktemp -d /tmp/http-spec.XXXXXX"))
		dir = p:read("*l")
		p:close()
	end
	return dir
end

local seq = 0
function M.tmpname(suffix)
	seq = seq + 1
	return tmpdir() .. "/f" .. seq .. (suffix or "")
end

function M.read(path)
	local f = io.open(path, "rb")
	if not f then return nil end
	local s = f:read("*a")
	f:close()
	return s
end

-- A temporary file holding `content`; returns its path.
function M.file(content)
	local path = M.tmpname()
	local f = assert(io.open(path, "wb"))
	f:write(content)
	f:close()
	return path
end

-- Sleep without pumping anything (between polls of a job when there is no server).
function M.sleep(secs)
	os.execute("sleep " .. secs)
end

local job_mt = {}
job_mt.__index = job_mt
function job_mt:done() return M.read(self.base .. ".rc") ~= nil end
function job_mt:rc() return tonumber(M.read(self.base .. ".rc")) end
function job_mt:out() return M.read(self.base .. ".out") or "" end
function job_mt:err() return M.read(self.base .. ".err") or "" end
function job_mt:kill()
	-- The job runs in its own session: its id is the group id of everything it started.
	if not self.killed then
		self.killed = true
		os.execute("kill -TERM -" .. self.pid .. " 2>/dev/null")
	end
end

local jobs = {}

-- Start `cmd` (a shell command) in the background; its stdout, stderr and exit code are
-- collected in files.
function M.spawn(cmd)
	local base = M.tmpname()
	local script = string.format("%s >%s.out 2>%s.err; echo $? >%s.rct && mv %s.rct %s.rc",
		cmd, base, base, base, base, base)
	local p = assert(io.popen("setsid sh -c " .. M.quote(script) .. " </dev/null >/dev/null 2>&1 & echo $!"))
	local pid = tonumber(p:read("*l"))
	p:close()
	local job = setmetatable({ pid = assert(pid), base = base, cmd = cmd }, job_mt)
	jobs[#jobs + 1] = job
	return job
end

local function all_done(list)
	for i = 1, #list do
		if not list[i]:done() then return false end
	end
	return true
end

-- Step `server` (or just wait, without one) until the job(s) finish; raise after `timeout`
-- seconds (default 5).
function M.pump(server, job, timeout)
	local list = job.pid and { job } or job
	local deadline = M.now() + (timeout or 5)
	while not all_done(list) do
		if M.now() > deadline then
			for i = 1, #list do list[i]:kill() end
			error("client did not finish in time: " .. list[1].cmd, 2)
		end
		if server then server:step(0.02) else M.sleep(0.05) end
	end
	return job
end

-- Step `server` for `secs` seconds.
function M.run_for(server, secs)
	local deadline = M.now() + secs
	while M.now() < deadline do server:step(math.max(0, math.min(0.02, deadline - M.now()))) end
end

-- Step `server` until pred() is true (or `timeout`); returns pred()'s final value.
function M.pump_until(server, pred, timeout)
	local deadline = M.now() + (timeout or 5)
	while not pred() and M.now() < deadline do server:step(0.02) end
	return pred()
end

-- curl with a time limit, as a command line.
function M.curl(args)
	return "curl -sS --max-time 8 " .. args
end

-- Run curl against `server` and return (stdout, stderr, exit code).
function M.fetch(server, args, timeout)
	local job = M.pump(server, M.spawn(M.curl(args)), timeout)
	return job:out(), job:err(), job:rc()
end

-- The raw TCP client (spec/support/raw_client.py) as a command line.
function M.raw(port, ...)
	return "python3 " .. M.root .. "/spec/support/raw_client.py " .. port .. " " .. table.concat({ ... }, " ")
end

function M.has_python_module(name)
	return M.sh("python3 -c 'import " .. name .. "' >/dev/null 2>&1")
end

local servers = {}

-- A server on 127.0.0.1 and a free port, already listening.
function M.server(onstream, options)
	options = options or {}
	if not options.path then
		options.host = options.host or "127.0.0.1"
		options.port = options.port or 0
	end
	options.onstream = onstream
	local server = assert(http_server.listen(options))
	assert(server:listen())
	servers[#servers + 1] = server
	return server
end

function M.port(server)
	return select(3, server:localname())
end

function M.url(server, path)
	return "http://127.0.0.1:" .. M.port(server) .. (path or "/")
end

-- Answer with `status` and `body`; `extra` is a list of {name, value}.
function M.respond(stream, status, body, extra)
	local h = http_headers.new()
	h:append(":status", tostring(status))
	for _, kv in ipairs(extra or {}) do h:append(kv[1], kv[2]) end
	assert(stream:write_headers(h, body == nil))
	if body ~= nil then assert(stream:write_chunk(body, true)) end
end

-- Parse HTTP/1 responses from raw bytes: a list of {version=, status=, headers={name=value},
-- body=, trailers={}}. A body without a length runs to the end.
function M.parse_responses(raw)
	local list, pos = {}, 1
	while pos <= #raw do
		local s, e, version, status = raw:find("^HTTP/(%d%.%d) (%d%d%d)[^\r]*\r\n", pos)
		if not s then break end
		local r = { version = version, status = status, headers = {}, trailers = {}, body = "" }
		pos = e + 1
		while true do
			local ls, le, name, value = raw:find("^([^:\r]+):%s*([^\r]*)\r\n", pos)
			if not ls then break end
			r.headers[name:lower()] = value
			pos = le + 1
		end
		pos = pos + 2 -- the empty line
		local len = tonumber(r.headers["content-length"])
		if r.status:sub(1, 1) == "1" or r.status == "204" or r.status == "304" then
			len = 0
		end
		if r.headers["transfer-encoding"] then
			local parts = {}
			while true do
				local cs, ce, size = raw:find("^(%x+)[^\r]*\r\n", pos)
				if not cs then break end
				size = tonumber(size, 16)
				pos = ce + 1
				if size == 0 then break end
				parts[#parts + 1] = raw:sub(pos, pos + size - 1)
				pos = pos + size + 2
			end
			while true do
				local ls, le, name, value = raw:find("^([^:\r]+):%s*([^\r]*)\r\n", pos)
				if not ls then break end
				r.trailers[name:lower()] = value
				pos = le + 1
			end
			pos = pos + 2
			r.body = table.concat(parts)
		elseif len then
			r.body = raw:sub(pos, pos + len - 1)
			pos = pos + len
		else
			r.body = raw:sub(pos)
			pos = #raw + 1
		end
		list[#list + 1] = r
	end
	return list
end

-- after_each: stop every client still running and close every server.
function M.cleanup()
	for i = #jobs, 1, -1 do
		if not jobs[i]:done() then jobs[i]:kill() end
		jobs[i] = nil
	end
	for i = #servers, 1, -1 do
		servers[i]:close()
		servers[i] = nil
	end
end

-- teardown: remove the temporary files.
function M.remove_files()
	M.cleanup()
	if dir then
		os.execute("rm -rf " .. M.quote(dir))
		dir = nil
	end
end

return M
