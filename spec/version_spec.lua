describe("http.version", function()
	local version = require "http.version"

	it("names the library and its version", function()
		assert.same("lua-http", version.name)
		assert.same("string", type(version.version))
		assert.truthy(version.version:match("^%d+%.%d+"))
	end)
end)
