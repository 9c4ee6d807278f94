//! http.tls: lua-http's TLS module, backed by rustls (ring provider) instead of luaossl.
//!
//! Lua: the documented constants and `new_client_context()` / `new_server_context()`, whose
//! objects take the luaossl context methods scripts call (setCertificate, setPrivateKey,
//! setCertificateChain, setAlpnProtos, setVerify/getVerify, setStore/getStore,
//! setCipherList/setCipherSuites, setOptions/getOptions/clearOptions), plus our own helpers:
//! `new_self_signed_server_context([hostnames])`, `certificate_from_pem(s)`,
//! `private_key_from_pem(s)`, `new_store()`, `ctx:addTrustedCertificate(cert)` and the
//! luaossl VERIFY_* and OP_* numbers. Certificates and keys are taken as PEM or DER strings, a
//! file path, our objects, or luaossl objects (through their `toPEM`). Bad input raises a Lua
//! error. Unknown cipher names are ignored (see `ciphers::select`).
//!
//! Rust, for the server and client:
//! - `server_config(lua, ctx)` / `client_config(lua, ctx)`: the rustls config of a context
//!   userdata, built on first use and cached until a setter changes the context (or its store).
//!   `None` gives the defaults: a self-signed certificate for localhost, 127.0.0.1 and ::1
//!   (made once per process), and a client that verifies against the system's roots. Both
//!   offer ALPN "h2" then "http/1.1" unless the context says otherwise.
//! - `restrict_alpn(&config, &["http/1.1"])`: a copy that only offers/accepts those protocols
//!   (e.g. for a server restricted to HTTP/1), keeping the context's order.
//! - `TlsInfo::from_server(&conn)` / `from_client(&conn)` after the handshake (the client sets
//!   `info.sni` itself), and `push_tls_info(lua, info)`: the object `checktls()` returns, with
//!   luaossl's getAlpnSelected, getVersion, getCipherInfo, getHostName, getPeerCertificate
//!   and getPeerChain.

mod bindings;
mod ciphers;
mod context;
mod info;
mod pem;
#[cfg(test)]
mod tests;

// The Rust API below is for http.server and http.client, which are not written yet.
#[allow(unused_imports)]
pub use context::Context;
#[allow(unused_imports)]
pub use info::{push_tls_info, Certificate, TlsInfo};

use mlua::{AnyUserData, Lua, Table};
use rustls::{ClientConfig, ServerConfig};
use std::sync::Arc;

fn context_config<C>(
    ctx: &AnyUserData,
    build: impl FnOnce(&mut Context) -> Result<Arc<C>, String>,
) -> mlua::Result<Arc<C>> {
    let mut ctx = ctx.borrow_mut::<Context>().map_err(|e| match e {
        mlua::Error::UserDataTypeMismatch => {
            mlua::Error::RuntimeError("ctx: an http.tls context expected".into())
        }
        e => e,
    })?;
    build(&mut ctx).map_err(mlua::Error::RuntimeError)
}

/// The rustls server config of `ctx` (None: the process' self-signed default).
#[allow(dead_code)]
pub fn server_config(_lua: &Lua, ctx: Option<&AnyUserData>) -> mlua::Result<Arc<ServerConfig>> {
    match ctx {
        Some(ctx) => context_config(ctx, Context::server_config),
        None => context::default_server_config().map_err(mlua::Error::RuntimeError),
    }
}

/// The rustls client config of `ctx` (None: verifying against the system's roots).
#[allow(dead_code)]
pub fn client_config(_lua: &Lua, ctx: Option<&AnyUserData>) -> mlua::Result<Arc<ClientConfig>> {
    match ctx {
        Some(ctx) => context_config(ctx, Context::client_config),
        None => context::default_client_config().map_err(mlua::Error::RuntimeError),
    }
}

/// A rustls config with an ALPN list.
#[allow(dead_code)]
pub trait AlpnConfig: Clone {
    fn alpn_mut(&mut self) -> &mut Vec<Vec<u8>>;
}

impl AlpnConfig for ServerConfig {
    fn alpn_mut(&mut self) -> &mut Vec<Vec<u8>> {
        &mut self.alpn_protocols
    }
}

impl AlpnConfig for ClientConfig {
    fn alpn_mut(&mut self) -> &mut Vec<Vec<u8>> {
        &mut self.alpn_protocols
    }
}

/// A copy of `config` whose ALPN list keeps only the `allowed` protocols.
#[allow(dead_code)]
pub fn restrict_alpn<C: AlpnConfig>(config: &Arc<C>, allowed: &[&str]) -> Arc<C> {
    let mut c = C::clone(config);
    c.alpn_mut()
        .retain(|p| allowed.iter().any(|a| a.as_bytes() == p.as_slice()));
    Arc::new(c)
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    info::register(lua)?;
    let t = lua.create_table()?;
    t.set("has_alpn", true)?;
    t.set("has_hostname_validation", true)?;
    t.set("modern_cipher_list", ciphers::MODERN)?;
    t.set("intermediate_cipher_list", ciphers::INTERMEDIATE)?;
    t.set("old_cipher_list", ciphers::OLD)?;
    let banned = lua.create_table()?;
    for name in ciphers::BANNED.split_whitespace() {
        banned.set(name, true)?;
    }
    t.set("banned_ciphers", banned)?;
    bindings::open(lua, &t)?;
    Ok(t)
}
