return require "http.core".tls
