return require "http.core".hsts
