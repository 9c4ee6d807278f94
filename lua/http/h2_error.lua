return require "http.core".h2_error
