describe("http.tls", function()
	local tls = require "http.tls"

	-- Fixtures made with the openssl tool (valid until 2126): an EC key (PKCS#8) with its
	-- certificate for localhost and 127.0.0.1, and a second EC key (SEC1) with its certificate.
	local key1 = [[
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSNX713T9GseUSdNE
69NQ0tVcm94wZEIfIO8TOgAnXruhRANCAASpneQJQAHedWL6L+c23KDsgNMY9rRW
tu4ActUVOPmCjYVNFu+2/snwpr3YDnUR5hIWdfw/RNqjR/9gDbEAU6N5
-----END PRIVATE KEY-----
]]
	local cert1 = [[
-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUPQoIwyTFKtztDMUizzaJISNQEGAwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMTA2MTgxMFoYDzIxMjYxMDI4
MDYxODEwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASpneQJQAHedWL6L+c23KDsgNMY9rRWtu4ActUVOPmCjYVNFu+2/snw
pr3YDnUR5hIWdfw/RNqjR/9gDbEAU6N5o28wbTAdBgNVHQ4EFgQUR5VcxKI+Ods2
rXsucQ2KDS+vt4UwHwYDVR0jBBgwFoAUR5VcxKI+Ods2rXsucQ2KDS+vt4UwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIgEhT4HHuq6QT/iRlWRQN+bwM65jlLcYAg/sndjtXWvaQCIQD8
kcv7Hq1W6igOcgjFJ4iithUqLymfhwX9MWj571ZRBg==
-----END CERTIFICATE-----
]]
	local cert1_sha256 = "42bc3cb6cdfad3bd57f4287e3112eb534ce8271f2e7fa9f7d3fd9ce4668b6812"
	local key2 = [[
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEINkUSMATnJITkbtIJHaQaJTusORKU4zaGbgdrbO8ldCUoAoGCCqGSM49
AwEHoUQDQgAEOg2p26C8FU9lFWClZfoW7+Y/yK4jceRf6KnMfaMq1YOYkGJ/+bzl
2usVbsmoz2ncZ/WdrH3B2eXPIbEpuwoPdQ==
-----END EC PRIVATE KEY-----
]]
	local cert2 = [[
-----BEGIN CERTIFICATE-----
MIIBdzCCAR2gAwIBAgIUU7Tu9d7VNPedpnl8de9SNYQTCaIwCgYIKoZIzj0EAwIw
EDEOMAwGA1UEAwwFb3RoZXIwIBcNMjYxMTIxMDYxODEwWhgPMjEyNjEwMjgwNjE4
MTBaMBAxDjAMBgNVBAMMBW90aGVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
Og2p26C8FU9lFWClZfoW7+Y/yK4jceRf6KnMfaMq1YOYkGJ/+bzl2usVbsmoz2nc
Z/WdrH3B2eXPIbEpuwoPdaNTMFEwHQYDVR0OBBYEFIKutYXmtB4Ee/LTjinSOfyt
LOp+MB8GA1UdIwQYMBaAFIKutYXmtB4Ee/LTjinSOfytLOp+MA8GA1UdEwEB/wQF
MAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgNq7vvFy3TOvYXhSeJCLpcegvVHT2UX9f
dw0Y/vmiv5ECIQCkJPruWaQ+DtgFt+w7GSuNjwfp6w5SlzaJUnHUYRco7A==
-----END CERTIFICATE-----
]]

	-- The message of a Lua error raised by f(...), or nil if it succeeded.
	local function error_of(f, ...)
		local ok, err = pcall(f, ...)
		if ok then return nil end
		return tostring(err)
	end

	local function temp_file(contents)
		local name = os.tmpname()
		local f = assert(io.open(name, "wb"))
		f:write(contents)
		f:close()
		return name
	end

	describe("constants", function()
		it("has ALPN and hostname validation", function()
			assert.is_true(tls.has_alpn)
			assert.is_true(tls.has_hostname_validation)
		end)

		it("has the Mozilla cipher lists as OpenSSL cipher strings", function()
			assert.same("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
				.. "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
				.. "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
				.. "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
				.. "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256", tls.modern_cipher_list)
			assert.truthy(tls.intermediate_cipher_list:find("^ECDHE%-ECDSA%-CHACHA20%-POLY1305:"))
			assert.truthy(tls.intermediate_cipher_list:find(":DES%-CBC3%-SHA:!DSS$"))
			assert.truthy(tls.old_cipher_list:find(":HIGH:SEED:!aNULL:", 1, false))
			assert.truthy(tls.old_cipher_list:find("!SRP$"))
		end)

		it("has the ciphers RFC 7540 bans as a set of OpenSSL names", function()
			local n = 0
			for k, v in pairs(tls.banned_ciphers) do
				assert.same("string", type(k))
				assert.is_true(v)
				n = n + 1
			end
			assert.same(202, n)
			assert.is_true(tls.banned_ciphers["RC4-SHA"])
			assert.is_true(tls.banned_ciphers["AES128-GCM-SHA256"])
			assert.is_true(tls.banned_ciphers["ECDHE-RSA-AES128-SHA256"])
			assert.is_nil(tls.banned_ciphers["ECDHE-RSA-AES128-GCM-SHA256"])
			assert.is_nil(tls.banned_ciphers["ECDHE-ECDSA-CHACHA20-POLY1305"])
			assert.is_nil(tls.banned_ciphers["TLS_AES_128_GCM_SHA256"])
		end)

		it("has luaossl's verify modes and option bits", function()
			assert.same(0, tls.VERIFY_NONE)
			assert.same(1, tls.VERIFY_PEER)
			assert.same(2, tls.VERIFY_FAIL_IF_NO_PEER_CERT)
			assert.same(134217728, tls.OP_NO_TLSv1_2)
			assert.same(536870912, tls.OP_NO_TLSv1_3)
		end)
	end)

	describe("contexts", function()
		it("client contexts verify the peer, server contexts do not", function()
			local c, s = tls.new_client_context(), tls.new_server_context()
			assert.same("userdata", type(c))
			assert.same({ 1, -1 }, { c:getVerify() })
			assert.same({ 0, -1 }, { s:getVerify() })
			assert.are_not.equal(c, tls.new_client_context())
		end)

		it("setVerify takes our constants or luaossl's numbers, and a depth", function()
			local c = tls.new_client_context()
			assert.is_true(c:setVerify(tls.VERIFY_NONE))
			assert.same({ 0, -1 }, { c:getVerify() })
			assert.is_true(c:setVerify(3, 4))
			assert.same({ 3, 4 }, { c:getVerify() })
			assert.is_true(c:setVerify(nil, 9))
			assert.same({ 3, 9 }, { c:getVerify() })
			assert.truthy(error_of(c.setVerify, c, "peer"))
		end)

		it("options are OpenSSL bits: set adds, clear removes, both return the new value", function()
			local c = tls.new_server_context()
			local base = c:getOptions()
			assert.same(base, c:getOptions())
			-- what rustls always does: no SSLv3, TLS 1.0, TLS 1.1 or compression
			for _, bit in ipairs { tls.OP_NO_SSLv3, tls.OP_NO_TLSv1, tls.OP_NO_TLSv1_1, tls.OP_NO_COMPRESSION } do
				assert.same(bit, base % (2 * bit) - base % bit)
			end
			assert.same(base + tls.OP_NO_TLSv1_3, c:setOptions(tls.OP_NO_TLSv1_3))
			assert.same(base + tls.OP_NO_TLSv1_3, c:setOptions(tls.OP_NO_TLSv1_3))
			assert.same(base, c:clearOptions(tls.OP_NO_TLSv1_3))
			assert.same(base, c:getOptions())
		end)

		it("setAlpnProtos takes a list of protocol names", function()
			local c = tls.new_client_context()
			assert.is_true(c:setAlpnProtos { "h2", "http/1.1" })
			assert.is_true(c:setAlpnProtos {})
			assert.truthy(error_of(c.setAlpnProtos, c, { "" }):find("1 to 255 bytes"))
			assert.truthy(error_of(c.setAlpnProtos, c, { ("x"):rep(256) }))
			assert.truthy(error_of(c.setAlpnProtos, c, "h2"):find("table"))
		end)

		it("cipher strings map to rustls suites, other names are ignored", function()
			local c = tls.new_server_context()
			assert.is_true(c:setCipherList(tls.intermediate_cipher_list))
			assert.is_true(c:setCipherList(tls.old_cipher_list))
			assert.is_true(c:setCipherList("FOO:AES128-SHA"))
			assert.is_true(c:setCipherSuites("TLS_AES_256_GCM_SHA384:TLS_AES_128_CCM_SHA256"))
			-- excluding every suite rustls has leaves nothing
			local err = error_of(c.setCipherSuites, c,
				"!TLS_AES_128_GCM_SHA256:!TLS_AES_256_GCM_SHA384:!TLS_CHACHA20_POLY1305_SHA256")
			assert.truthy(err:find("no cipher match"))
			assert.truthy(error_of(c.setCipherList, c, nil):find("string expected"))
		end)

		it("are userdata that other objects are not mistaken for", function()
			local c = tls.new_client_context()
			local err = error_of(c.getVerify, tls.new_store())
			assert.truthy(err:find("wrong object type"))
		end)
	end)

	describe("certificates and keys", function()
		it("setCertificate and setPrivateKey take PEM strings", function()
			local s = tls.new_server_context()
			assert.is_nil(s:getCertificate())
			assert.is_true(s:setCertificate(cert1))
			assert.is_true(s:setPrivateKey(key1))
			assert.same(cert1, s:getCertificate():toPEM())
			assert.same({}, s:getCertificateChain())
		end)

		it("take our certificate and key objects", function()
			local cert = tls.certificate_from_pem(cert2)
			local key = tls.private_key_from_pem(key2)
			assert.same("userdata", type(cert))
			assert.same("userdata", type(key))
			local s = tls.new_server_context()
			assert.is_true(s:setCertificate(cert))
			assert.is_true(s:setPrivateKey(key))
			assert.same(cert2, tostring(s:getCertificate()))
		end)

		it("take DER strings and file names", function()
			local der = tls.certificate_from_pem(cert1):tostring("DER")
			assert.same(0x30, der:byte(1))
			local s = tls.new_server_context()
			assert.is_true(s:setCertificate(der))
			assert.same(cert1, s:getCertificate():toPEM())
			local cert_file, key_file = temp_file(cert2), temp_file(key2)
			assert.is_true(s:setCertificate(cert_file))
			assert.is_true(s:setPrivateKey(key_file))
			assert.same(cert2, s:getCertificate():toPEM())
			os.remove(cert_file)
			os.remove(key_file)
		end)

		it("take luaossl objects", function()
			local ok, x509 = pcall(require, "openssl.x509")
			local ok2, pkey = pcall(require, "openssl.pkey")
			if not (ok and ok2) then return end -- luaossl not installed
			local s = tls.new_server_context()
			assert.is_true(s:setCertificate(x509.new(cert1)))
			assert.is_true(s:setPrivateKey(pkey.new(key1)))
			assert.same(cert1, s:getCertificate():toPEM())
		end)

		it("a PEM holding a chain sets the certificate and its chain", function()
			local s = tls.new_server_context()
			assert.is_true(s:setCertificate(cert1 .. cert2))
			assert.same(cert1, s:getCertificate():toPEM())
			local chain = s:getCertificateChain()
			assert.same(1, #chain)
			assert.same(cert2, chain[1]:toPEM())
			assert.is_true(s:setCertificateChain {})
			assert.same({}, s:getCertificateChain())
			assert.is_true(s:setCertificateChain { cert2, tls.certificate_from_pem(cert1) })
			assert.same(2, #s:getCertificateChain())
		end)

		it("certificate_from_pem returns one object per certificate", function()
			local a, b, c = tls.certificate_from_pem(cert1 .. cert2)
			assert.same(cert1, a:toPEM())
			assert.same(cert2, b:toPEM())
			assert.is_nil(c)
		end)

		it("certificates have digests as luaossl's x509 has", function()
			local cert = tls.certificate_from_pem(cert1)
			assert.same(cert1_sha256, cert:digest())
			assert.same(cert1_sha256, cert:digest("sha256", "x"))
			assert.same(cert1_sha256, cert:digest("SHA256"))
			assert.same(32, #cert:digest("sha256", "s"))
			assert.same(96, #cert:digest("sha384"))
			assert.truthy(error_of(cert.digest, cert, "md5"):find("unsupported digest"))
			assert.truthy(error_of(cert.digest, cert, "sha256", "n"):find("invalid digest format"))
		end)

		it("bad PEM raises a Lua error saying what is wrong", function()
			local s = tls.new_server_context()
			local bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
			assert.truthy(error_of(s.setCertificate, s, bad):find("invalid certificate"))
			assert.truthy(error_of(s.setCertificate, s, key1):find("no CERTIFICATE"))
			assert.truthy(error_of(s.setPrivateKey, s, cert1):find("private key"))
			local junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
			assert.truthy(error_of(s.setPrivateKey, s, junk):find("private key"))
			assert.truthy(error_of(tls.certificate_from_pem, "not a certificate"):find("No such file"))
			assert.truthy(error_of(tls.certificate_from_pem, 42):find("certificate expected"))
			assert.truthy(error_of(tls.private_key_from_pem, {}):find("private key expected"))
			assert.truthy(error_of(s.setCertificate, s, tls.new_store()):find("without toPEM"))
			-- and the context is left as it was
			assert.is_nil(s:getCertificate())
		end)

		it("a key that does not match the certificate is refused", function()
			local s = tls.new_server_context()
			assert.is_true(s:setCertificate(cert1))
			assert.truthy(error_of(s.setPrivateKey, s, key2):find("does not match"))
			assert.is_true(s:setPrivateKey(key1))
			-- a new certificate replaces the key that no longer matches (as OpenSSL does)
			assert.is_true(s:setCertificate(cert2))
			assert.is_true(s:setPrivateKey(key2))
		end)
	end)

	describe("stores", function()
		it("contexts take extra trusted certificates", function()
			local c = tls.new_client_context()
			assert.is_true(c:addTrustedCertificate(cert1))
			assert.is_true(c:addTrustedCertificate { cert2 })
			assert.truthy(error_of(c.addTrustedCertificate, c, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
		end)

		it("getStore and new_store give luaossl-like stores", function()
			local store = tls.new_store()
			assert.same(store, store:add(cert1))
			assert.same(store, store:addDefaults())
			local file = temp_file(cert2)
			assert.same(store, store:add(file))
			os.remove(file)
			local c = tls.new_client_context()
			assert.is_true(c:setStore(store))
			local own = c:getStore()
			assert.same("userdata", type(own))
			assert.same(own, own:add(cert2))
			assert.truthy(error_of(c.setStore, c, "store"):find("store expected"))
			assert.truthy(error_of(store.add, store, "/nonexistent/ca.pem"):find("No such file"))
		end)

		it("store:add takes a directory of certificates", function()
			local dir = os.tmpname()
			os.remove(dir)
			assert.truthy(os.execute("mkdir " .. dir))
			local f = assert(io.open(dir .. "/a.pem", "w"))
			f:write(cert1)
			f:close()
			f = assert(io.open(dir .. "/README", "w"))
			f:write("not a certificate")
			f:close()
			local store = tls.new_store()
			assert.same(store, store:add(dir))
			os.remove(dir .. "/a.pem")
			os.remove(dir .. "/README")
			os.remove(dir)
		end)
	end)

	describe("new_self_signed_server_context", function()
		it("makes a server context with a certificate and key", function()
			local s = tls.new_self_signed_server_context()
			assert.same({ 0, -1 }, { s:getVerify() })
			local pem = s:getCertificate():toPEM()
			assert.truthy(pem:find("^%-%-%-%-%-BEGIN CERTIFICATE%-%-%-%-%-\n"))
			-- the default one is made once per process
			assert.same(pem, tls.new_self_signed_server_context():getCertificate():toPEM())
		end)

		it("makes a new certificate for the names given", function()
			local a = tls.new_self_signed_server_context("example.com"):getCertificate():toPEM()
			local b = tls.new_self_signed_server_context { "a.example", "127.0.0.1" }:getCertificate():toPEM()
			assert.are_not.equal(a, b)
			assert.are_not.equal(a, tls.new_self_signed_server_context():getCertificate():toPEM())
			assert.truthy(error_of(tls.new_self_signed_server_context, 42):find("host name"))
		end)
	end)
end)
