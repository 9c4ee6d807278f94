-- Packaging: `luarocks make` installs the modules offline for the running interpreter.
describe("rockspec", function()
	local version = _VERSION:match("%d%.%d")
	local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/rockspec_spec%.lua$") or "."
	local interp = "lua" .. version

	-- Output and exit status of a shell command (io.popen's close() gives no status on 5.1).
	local function sh(cmd)
		local p = assert(io.popen(cmd .. " 2>&1; echo \"exit=$?\""))
		local out = p:read("*a")
		p:close()
		local body, code = out:match("^(.*)exit=(%d+)\n$")
		return body, tonumber(code)
	end

	-- luarocks drives the plain interpreters; LuaJIT shares 5.1's tree.
	local it_ = jit and pending or it
	it_("installs with luarocks make and loads from any directory", function()
		local tree = os.tmpname()
		os.remove(tree)
		local out, code = sh(string.format("cd %q && luarocks --lua-version %s --tree %q make rockspec/lua-http-native-scm-0.rockspec",
			root, version, tree))
		assert.same(0, code, out)
		out, code = sh(string.format(
			"cd / && LUA_PATH='%s/share/lua/%s/?.lua;;' LUA_CPATH='%s/lib/lua/%s/?.so;;' %s -e 'local v = require \"http.version\" print(v.name, v.version, package.loaded[\"http.core\"] ~= nil)'",
			tree, version, tree, version, interp))
		assert.same(0, code, out)
		assert.same("lua-http\t0.4\ttrue\n", out)
		sh("rm -rf " .. tree)
	end)
end)
