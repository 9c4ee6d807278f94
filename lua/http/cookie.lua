return require "http.core".cookie
