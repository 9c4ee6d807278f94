return require "http.core".h1_reason_phrases
