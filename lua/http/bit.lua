return require "http.core".bit
