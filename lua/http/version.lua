return require "http.core".version
