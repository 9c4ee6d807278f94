return require "http.core".hpack
