return require "http.core".headers
