-- A first tour of the modules that need no network: headers, URIs, cookies, HSTS, zlib.
--   LUA_PATH="$PWD/lua/?.lua;;" LUA_CPATH="$PWD/build/lua54/?.so;;" lua5.4 examples/basics.lua
local http_headers = require "http.headers"
local http_util = require "http.util"
local http_cookie = require "http.cookie"
local http_hsts = require "http.hsts"
local zlib = require "http.zlib"

-- A response's headers, in order, with set-cookie kept out of HPACK indexing by default.
local headers = http_headers.new()
headers:append(":status", "200")
headers:append("content-type", "text/plain")
headers:append("set-cookie", "session=abc123; Path=/; Secure; HttpOnly; Max-Age=3600")
headers:append("strict-transport-security", "max-age=31536000; includeSubDomains")
for name, value, never_index in headers:each() do
	print(name, value, never_index)
end

-- URIs and queries.
print(http_util.encodeURIComponent("a b&c=d/é"))
for name, value in http_util.query_args("q=lua%20http&page=2") do
	print("query", name, value)
end
print(http_util.resolve_relative_path("/docs/guide/index.html", "../api/server.html"))

-- Cookies: store what the server set, then find what to send back.
local store = http_cookie.new_store()
local request = http_headers.new()
request:append(":authority", "example.com")
request:append(":path", "/login")
request:append(":scheme", "https")
store:store_from_request(request, headers, "example.com")
print("cookie header for https://example.com/account:",
	store:lookup("example.com", "/account", true, true, true, "example.com", true))

-- HSTS: remember the policy, then check subdomains.
local hsts = http_hsts.new_store()
hsts:store("example.com", { ["max-age"] = "31536000", includesubdomains = true })
print("upgrade www.example.com to https?", hsts:check("www.example.com"))

-- zlib: compress and restore.
local text = string.rep("lua-http ", 100)
local compressed = zlib.deflate()(text, true)
print(("deflated %d bytes to %d"):format(#text, #compressed), zlib.inflate()(compressed, true) == text)
