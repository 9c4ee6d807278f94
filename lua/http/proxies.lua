return require "http.core".proxies
