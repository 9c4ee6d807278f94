describe("http.h1_reason_phrases", function()
	local reason_phrases = require "http.h1_reason_phrases"

	it("gives the manual's examples", function()
		assert.same("OK", reason_phrases["200"])
		assert.same("Unassigned", reason_phrases["342"])
	end)
	it("has the registered codes, with lua-http's phrases", function()
		local want = {
			["100"] = "Continue", ["101"] = "Switching Protocols", ["102"] = "Processing",
			["103"] = "Early Hints", ["204"] = "No Content", ["206"] = "Partial Content",
			["301"] = "Moved Permanently", ["304"] = "Not Modified", ["308"] = "Permanent Redirect",
			["404"] = "Not Found", ["413"] = "Request Entity Too Large",
			["414"] = "Request-URI Too Long", ["416"] = "Requested Range Not Satisfiable",
			["418"] = "I'm a teapot", ["421"] = "Misdirected Request",
			["422"] = "Unprocessable Entity", ["425"] = "Too Early", ["426"] = "Upgrade Required",
			["428"] = "Precondition Required", ["429"] = "Too Many Requests",
			["431"] = "Request Header Fields Too Large", ["451"] = "Unavailable For Legal Reasons",
			["500"] = "Internal Server Error", ["505"] = "HTTP Version Not Supported",
			["508"] = "Loop Detected", ["511"] = "Network Authentication Required",
		}
		for code, phrase in pairs(want) do
			assert.same(phrase, reason_phrases[code])
		end
	end)
	it("is a plain table of string codes, with 'Unassigned' for the rest", function()
		local n = 0
		for code, phrase in pairs(reason_phrases) do
			assert.truthy(code:match("^[1-5]%d%d$"))
			assert.same("string", type(phrase))
			n = n + 1
		end
		assert.same(62, n)
		assert.is_nil(rawget(reason_phrases, "342"))
		assert.same("Unassigned", reason_phrases["999"])
		assert.same("Unassigned", reason_phrases[200])
		assert.same("Unassigned", reason_phrases.foo)
	end)
end)
