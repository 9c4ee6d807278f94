return require "http.core".zlib
