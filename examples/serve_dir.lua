#!/usr/bin/env lua
-- A static file server: serves the files under a directory, with a content-type chosen by
-- extension, index.html for directories, 404 for what is not there, and request paths
-- sanitised so that nothing outside the directory can be reached.
--
-- Usage: lua examples/serve_dir.lua [port] [directory]     (defaults: any free port, ".")

local http_server = require "http.server"
local http_headers = require "http.headers"
local http_util = require "http.util"

local port = tonumber(arg[1]) or 0
local root = (arg[2] or "."):gsub("/+$", "")
if root == "" then root = "/" end

local content_types = {
	html = "text/html; charset=utf-8", htm = "text/html; charset=utf-8",
	txt = "text/plain; charset=utf-8", md = "text/markdown; charset=utf-8",
	css = "text/css", js = "application/javascript", json = "application/json",
	xml = "application/xml", svg = "image/svg+xml", png = "image/png",
	jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif", ico = "image/x-icon",
	pdf = "application/pdf", wasm = "application/wasm", lua = "text/x-lua",
}

local function content_type(path)
	local ext = path:match("%.([%w]+)$")
	return ext and content_types[ext:lower()] or "application/octet-stream"
end

-- The file a request path names, or nil when the path is not acceptable: "..", NUL bytes
-- and the like never reach the file system.
local function file_for(request_path)
	local path = request_path:match("^[^?#]*")
	if path:sub(1, 1) ~= "/" then return nil end
	local parts = {}
	for segment in path:gmatch("[^/]+") do
		segment = http_util.decodeURIComponent(segment)
		if not segment or segment == ".." or segment:find("[%z/\\]") then return nil end
		if segment ~= "." then parts[#parts + 1] = segment end
	end
	return root .. "/" .. table.concat(parts, "/")
end

-- Open a regular file for reading; directories give their index.html.
local function open_file(path)
	local file = io.open(path, "rb")
	if not file then return nil end
	local _, _, errno = file:read(0)
	if errno == 21 then -- EISDIR: io.open opens directories, reading them fails
		file:close()
		return open_file(path .. "/index.html")
	end
	return file, path
end

local function respond(stream, method, status, body, ctype)
	local headers = http_headers.new()
	headers:append(":status", status)
	headers:append("content-type", ctype or "text/plain; charset=utf-8")
	headers:append("content-length", tostring(#body))
	assert(stream:write_headers(headers, method == "HEAD"))
	if method ~= "HEAD" then assert(stream:write_chunk(body, true)) end
end

local function onstream(_, stream)
	local request = assert(stream:get_headers())
	local method = request:get(":method")
	if method ~= "GET" and method ~= "HEAD" then
		local headers = http_headers.new()
		headers:append(":status", "405")
		headers:append("allow", "GET, HEAD")
		assert(stream:write_headers(headers, true))
		return
	end
	local path = file_for(request:get(":path"))
	local file, name
	if path then file, name = open_file(path) end
	if not file then
		return respond(stream, method, "404", "Not found\n")
	end
	local size = file:seek("end")
	file:seek("set")
	local headers = http_headers.new()
	headers:append(":status", "200")
	headers:append("content-type", content_type(name))
	headers:append("content-length", tostring(size))
	assert(stream:write_headers(headers, method == "HEAD"))
	if method ~= "HEAD" then assert(stream:write_body_from_file(file)) end
	file:close()
end

local server = assert(http_server.listen {
	host = "127.0.0.1",
	port = port,
	onstream = onstream,
	onerror = function(_, context, op, err)
		io.stderr:write(string.format("%s on %s failed: %s\n", op, tostring(context), tostring(err)))
	end,
})
assert(server:listen())
io.stderr:write(string.format("Serving %s on port %d\n", root, select(3, server:localname())))
assert(server:loop())
