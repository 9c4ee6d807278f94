-- store:load_from_file and store:save_to_file. The file's :read and :write are called from Lua,
-- so a file object whose calls yield (a cqueues socket) may do so; Rust parses and formats.
local methods, load, dump = ...

function methods:load_from_file(file)
	local text, err, errno = file:read("*a")
	if not text then
		return nil, err, errno
	end
	load(self, text)
	return true
end

function methods:save_to_file(file)
	local ok, err, errno = file:write(dump(self))
	if not ok then
		return nil, err, errno
	end
	return true
end
