-- http.headers: the list lives in Rust (src/headers.rs). Lua adds dump (it writes to a Lua
-- file object) and, on LuaJIT, a Lua each().
local headers = require "http.core".headers
local methods = headers.methods

function methods:dump(file, prefix)
	file = file or io.stderr
	prefix = prefix or ""
	for name, value in self:each() do
		local ok, err = file:write(prefix .. name .. ": " .. value .. "\n")
		if not ok then
			error(err, 2)
		end
	end
end

-- LuaJIT cannot compile a for loop whose iterator is a C function: it stitches trace after
-- trace and falls back to the interpreter, 3x slower than this Lua iterator over geti (which
-- in turn is 2x slower than the C iterator on PUC Lua).
if jit then
	local geti, len = methods.geti, methods.len
	function methods:each()
		len(self) -- fail here, not at the first step, if self is not a headers object
		local i = 0
		return function()
			i = i + 1
			return geti(self, i)
		end, self
	end
end

return headers
