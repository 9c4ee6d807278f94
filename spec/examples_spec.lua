-- The scripts in examples/ run as a user would run them, with this checkout's paths.
describe("examples", function()
	local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/examples_spec%.lua$") or "."

	-- Run a Lua script with the current interpreter and the paths spec/helper.lua set up.
	local function run(script)
		local i = -1 -- the interpreter is the most negative index of arg
		while arg[i - 1] do i = i - 1 end
		local interp = arg[i]
		local cmd = string.format("LUA_PATH=%q LUA_CPATH=%q %s %s/examples/%s 2>&1",
			package.path, package.cpath, interp, root, script)
		local p = assert(io.popen(cmd))
		local out = p:read("*a")
		p:close()
		return out
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
end)
