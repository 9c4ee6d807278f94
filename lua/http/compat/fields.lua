-- A response's fields as a plain table, the way luasocket and prosody hand them out: lower-case
-- names, repeated fields joined with ", ", no pseudo-headers. Shared by http.compat.socket and
-- http.compat.prosody.
return function(headers)
	local t = {}
	for name, value in headers:each() do
		if name:sub(1, 1) ~= ":" then
			local old = t[name]
			t[name] = old and old .. ", " .. value or value
		end
	end
	return t
end
