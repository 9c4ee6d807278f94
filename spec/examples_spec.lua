-- The scripts in examples/ run as a user would run them, with this checkout's paths.
local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/examples_spec%.lua$") or "."
package.path = root .. "/?.lua;" .. package.path
local support = require "spec.support"

describe("examples", function()
	after_each(support.cleanup)
	teardown(support.remove_files)

	local function command(script, args)
		return string.format("LUA_PATH=%s LUA_CPATH=%s %s %s/examples/%s %s", support.quote(package.path),
			support.quote(package.cpath), support.interpreter(), root, script, args or "")
	end

	-- Run a script to its end and return what it printed.
	local function run(script)
		local p = assert(io.popen(command(script) .. " 2>&1"))
		local out = p:read("*a")
		p:close()
		return out
	end

	-- Start a server script in the background; returns the job (stopped by its id after the
	-- test) and the port it says it listens on.
	local function start(script, args)
		local job = support.spawn(command(script, args))
		local deadline = support.now() + 5
		while support.now() < deadline do
			local port = job:err():match("port (%d+)")
			if port then return job, port end
			assert(not job:done(), job:err())
			support.sleep(0.05)
		end
		error("the example did not report its port: " .. job:err())
	end

	-- curl, while nothing runs in this process; returns (stdout, stderr, exit code).
	local function curl(args)
		local job = support.pump(nil, support.spawn(support.curl(args)))
		return job:out(), job:err(), job:rc()
	end

	it("basics.lua tours the offline modules", function()
		local out = run("basics.lua")
		assert.truthy(out:find("set%-cookie\tsession=abc123; Path=/; Secure; HttpOnly; Max%-Age=3600\ttrue\n"), out)
		assert.truthy(out:find("a%%20b%%26c%%3Dd%%2F%%C3%%A9\n"), out)
		assert.truthy(out:find("/docs/api/server.html\n", 1, true), out)
		assert.truthy(out:find("https://example.com/account:\tsession=abc123\n", 1, true), out)
		assert.truthy(out:find("upgrade www.example.com to https?\ttrue\n", 1, true), out)
		assert.truthy(out:find("deflated 900 bytes to %d+\ttrue\n"), out)
	end)

	it("server_hello.lua answers GET, HEAD and h2c, and logs each request", function()
		local job, port = start("server_hello.lua")
		local url = "http://127.0.0.1:" .. port .. "/greet"
		local out, err, rc = curl("-i " .. url)
		assert.same(0, rc, err)
		assert.truthy(out:find("^HTTP/1.1 200"), out)
		assert.truthy(out:lower():find("\r\ncontent%-type: text/plain\r\n"), out)
		assert.truthy(out:find("\r\n\r\nHello world!\n$"), out)
		out = curl("-I " .. url)
		assert.truthy(out:find("^HTTP/1.1 200"), out)
		assert.truthy(out:find("\r\n\r\n$"), out)
		out = curl("--http2-prior-knowledge " .. url)
		assert.same("Hello world!\n", out)
		assert.truthy(job:out():find("GET /greet HTTP/1.1\n", 1, true), job:out())
		assert.truthy(job:out():find("HEAD /greet HTTP/1.1\n", 1, true), job:out())
		assert.truthy(job:out():find("GET /greet HTTP/2\n", 1, true), job:out())
	end)

	it("serve_dir.lua serves files with their content-type, 404s, and keeps to its directory", function()
		local dir = support.tmpname("-www")
		local outside = support.tmpname("-secret.txt")
		assert(support.sh("mkdir -p " .. dir .. "/sub && printf 'secret' > " .. outside))
		local big = string.rep("0123456789abcdef", 64 * 1024) -- 1 MiB
		local function put(name, content)
			local f = assert(io.open(dir .. "/" .. name, "wb"))
			f:write(content)
			f:close()
		end
		put("hello.txt", "hello\n")
		put("page.html", "<p>hi</p>")
		put("sub/index.html", "index of sub")
		put("sub/data.bin", big)
		put("a b.css", "b{}")
		local _, port = start("serve_dir.lua", "0 " .. dir)
		local base = "http://127.0.0.1:" .. port
		local out, err = curl("-i " .. base .. "/hello.txt")
		assert.truthy(out:find("^HTTP/1.1 200"), out .. err)
		assert.truthy(out:lower():find("\r\ncontent%-type: text/plain; charset=utf%-8\r\n"), out)
		assert.truthy(out:lower():find("\r\ncontent%-length: 6\r\n"), out)
		assert.truthy(out:find("\r\n\r\nhello\n$"), out)
		out = curl("-w ' %{content_type}' " .. base .. "/page.html")
		assert.same("<p>hi</p> text/html; charset=utf-8", out)
		out = curl("-w ' %{content_type}' " .. base .. "/a%20b.css")
		assert.same("b{} text/css", out)
		out = curl(base .. "/sub/")
		assert.same("index of sub", out)
		local dl = support.tmpname()
		local _, err2, rc = curl("-o " .. dl .. " -w '%{content_type}' " .. base .. "/sub/data.bin")
		assert.same(0, rc, err2)
		assert.truthy(support.read(dl) == big)
		out = curl("-I " .. base .. "/sub/data.bin")
		assert.truthy(out:lower():find("\r\ncontent%-length: 1048576\r\n"), out)
		for _, path in ipairs({ "/missing.txt", "/sub/missing/", "/%2e%2e/" .. outside:match("[^/]+$"),
			"/sub/%2e%2e/%2e%2e/" .. outside:match("[^/]+$"), "/hello.txt%00.html" }) do
			out = curl("--path-as-is -o /dev/null -w '%{http_code}' " .. base .. path)
			assert.same("404", out, path)
		end
		out = curl("-X POST -o /dev/null -w '%{http_code}' " .. base .. "/hello.txt")
		assert.same("405", out)
	end)

	it("server_sent_events.lua streams an event every second", function()
		local _, port = start("server_sent_events.lua")
		local base = "http://127.0.0.1:" .. port
		local t0 = support.now()
		local job = support.spawn("curl -sS -N -i --max-time 2.5 " .. base .. "/event-stream")
		-- the page is served while the event stream's handler sleeps
		local page = curl(base .. "/")
		assert.truthy(page:find("EventSource", 1, true), page)
		assert.truthy(support.now() - t0 < 1.5)
		support.pump(nil, job)
		local out = job:out()
		assert.truthy(out:lower():find("\r\ncontent%-type: text/event%-stream\r\n"), out)
		local ids = {}
		for id in out:gmatch("id: (%d+)\ndata: [^\n]+\n\n") do ids[#ids + 1] = tonumber(id) end
		-- events at 0, 1 and 2 s within curl's 2.5 s
		assert.truthy(#ids >= 2 and #ids <= 4, out)
		for i = 1, #ids do assert.same(i, ids[i]) end
	end)

	-- A client example run against our server in this process (pumped until the script ends).
	local function run_client(server, script, args)
		local job = support.pump(server, support.spawn(command(script, args)), 10)
		return job:out(), job:err(), job:rc()
	end

	it("fetch.lua prints the status, headers and body, following a redirect", function()
		local server = support.server(function(_, stream)
			local h = assert(stream:get_headers())
			if h:get(":path") == "/old" then
				support.respond(stream, 301, "", { { "location", "/new" } })
			else
				support.respond(stream, 200, "fetched " .. h:get(":path") .. "\n", { { "x-example", "yes" } })
			end
		end, { cq = false })
		local out, err, rc = run_client(server, "fetch.lua", support.url(server, "/old"))
		assert.same(0, rc, err)
		assert.truthy(out:find("^200\n"), out)
		assert.truthy(out:find("\nx%-example: yes\n"), out)
		assert.truthy(out:find("\n\nfetched /new\n$"), out)
		out, err, rc = run_client(server, "fetch.lua", "http://127.0.0.1:1/")
		assert.same(1, rc)
		assert.truthy(err:find("errno 111"), err)
	end)

	it("post_json.lua POSTs a JSON body and prints the reply", function()
		local server = support.server(function(_, stream)
			local h = assert(stream:get_headers())
			local body = assert(stream:get_body_as_string())
			support.respond(stream, 201, '{"method": "' .. h:get(":method") .. '", "type": "' .. h:get("content-type")
				.. '", "got": ' .. body .. "}", { { "content-type", "application/json" } })
		end, { cq = false })
		local out, err, rc = run_client(server, "post_json.lua", support.url(server, "/items") .. " '{\"n\": 1}'")
		assert.same(0, rc, err)
		assert.same('201 application/json\n{"method": "POST", "type": "application/json", "got": {"n": 1}}\n', out)
	end)

	it("websocket_echo_server.lua echoes websocket messages and serves its page over HTTP", function()
		local _, port = start("websocket_echo_server.lua")
		local page = curl("http://127.0.0.1:" .. port .. "/")
		assert.truthy(page:find("new WebSocket", 1, true), page)
		local job = support.pump(nil, support.spawn(command("websocket_client.lua",
			"ws://127.0.0.1:" .. port .. "/ hello 'koo-eee!'")), 10)
		assert.same(0, job:rc(), job:err())
		assert.same("connected, protocol echo\ntext: hello\ntext: koo-eee!\nclosed\n", job:out())
	end)
end)
