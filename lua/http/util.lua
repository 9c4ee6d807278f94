return require "http.core".util
