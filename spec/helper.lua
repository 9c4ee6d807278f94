-- Loaded by busted before every spec (see .busted): put this checkout's lua/ and the fresh
-- build for the running interpreter first on the paths, so an installed lua-http cannot
-- shadow ours.
local root = debug.getinfo(1, "S").source:match("^@(.*)/spec/helper%.lua$") or "."
target = jit and "luajit" or "lua" .. _VERSION:gsub("%D", "")
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/" .. target .. "/?.so;" .. package.cpath
