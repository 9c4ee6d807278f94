//! The Lua side of http.tls: context, store and private key objects, and the module functions.

use super::context::{self, Context, SharedStore};
use super::info::{push_certificate, push_certificates, Certificate};
use super::pem;
use crate::runtime::{function, method, register_type};
use mlua::{Lua, LuaString, ObjectLike, Table, Value};
use rustls::pki_types::CertificateDer;
use rustls::sign::SigningKey;
use std::sync::Arc;

/// A store of trusted certificates (luaossl's `openssl.x509.store`).
struct StoreHandle(SharedStore);

/// A private key ready to sign (luaossl's `openssl.pkey`, private half only).
struct PrivateKey(Arc<dyn SigningKey>);

fn fail(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// The PEM a luaossl object gives (`x509:toPEM()`, `pkey:toPEM("private")`).
fn foreign_pem(ud: &mlua::AnyUserData, what: &str, arg: Option<&str>) -> mlua::Result<LuaString> {
    ud.call_method("toPEM", arg)
        .map_err(|_| fail(format!("{what} expected, got a userdata without toPEM")))
}

/// Certificates from a PEM/DER string, a file name, a certificate object, or a table of these.
fn certs_arg(v: &Value) -> mlua::Result<Vec<CertificateDer<'static>>> {
    match v {
        Value::String(s) => pem::certs(&s.as_bytes()).map_err(fail),
        Value::UserData(ud) => match ud.borrow::<Certificate>() {
            Ok(c) => Ok(vec![c.0.clone()]),
            Err(_) => pem::certs(&foreign_pem(ud, "certificate", None)?.as_bytes()).map_err(fail),
        },
        Value::Table(t) => {
            let mut all = Vec::new();
            for v in t.sequence_values::<Value>() {
                all.extend(certs_arg(&v?)?);
            }
            Ok(all)
        }
        other => Err(fail(format!(
            "certificate expected (PEM or DER string, file name or certificate object), got {}",
            other.type_name()
        ))),
    }
}

fn key_arg(v: &Value) -> mlua::Result<Arc<dyn SigningKey>> {
    match v {
        Value::String(s) => pem::key(&s.as_bytes()).map_err(fail),
        Value::UserData(ud) => match ud.borrow::<PrivateKey>() {
            Ok(k) => Ok(k.0.clone()),
            Err(_) => {
                pem::key(&foreign_pem(ud, "private key", Some("private"))?.as_bytes()).map_err(fail)
            }
        },
        other => Err(fail(format!(
            "private key expected (PEM or DER string, file name or key object), got {}",
            other.type_name()
        ))),
    }
}

/// A store gets certificates as `certs_arg` takes them, or every certificate in a directory.
fn store_add(store: &SharedStore, v: &Value) -> mlua::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let certs = match v {
        Value::String(s) => {
            let bytes = s.as_bytes();
            let path = std::path::Path::new(std::ffi::OsStr::from_bytes(&bytes));
            if path.is_dir() {
                pem::certs_in_dir(path).map_err(fail)?
            } else {
                certs_arg(v)?
            }
        }
        v => certs_arg(v)?,
    };
    store.borrow_mut().add(certs).map_err(fail)
}

fn store_type(lua: &Lua) -> mlua::Result<()> {
    let m = lua.create_table()?;
    m.set(
        "add",
        crate::runtime::method_ud(lua, "add", |_, ud, s: &mut StoreHandle, v: Value| {
            store_add(&s.0, &v).map(|()| ud.clone())
        })?,
    )?;
    m.set(
        "addDefaults",
        crate::runtime::method_ud(lua, "addDefaults", |_, ud, s: &mut StoreHandle, ()| {
            s.0.borrow_mut().add_defaults();
            Ok(ud.clone())
        })?,
    )?;
    register_type::<StoreHandle>(lua, &m, |_| {})
}

fn context_type(lua: &Lua) -> mlua::Result<()> {
    let m = lua.create_table()?;
    let set =
        |name: &'static str, f: fn(&mut Context, &Value) -> mlua::Result<()>| -> mlua::Result<()> {
            m.set(
                name,
                method(lua, name, move |_, c: &mut Context, v: Value| {
                    f(c, &v).map(|()| true)
                })?,
            )
        };
    set("setCertificate", |c, v| {
        c.set_certificate(certs_arg(v)?).map_err(fail)
    })?;
    set("setCertificateChain", |c, v| {
        c.set_chain(certs_arg(v)?);
        Ok(())
    })?;
    set("setPrivateKey", |c, v| {
        c.set_private_key(key_arg(v)?).map_err(fail)
    })?;
    set("setStore", |c, v| match v {
        Value::UserData(ud) => {
            c.set_store(ud.borrow::<StoreHandle>()?.0.clone());
            Ok(())
        }
        _ => Err(fail(
            "store expected (from ctx:getStore() or http.tls.new_store())",
        )),
    })?;
    set("addTrustedCertificate", |c, v| store_add(&c.store(), v))?;
    set("setAlpnProtos", |c, v| {
        let Value::Table(t) = v else {
            return Err(fail("table of protocol names expected"));
        };
        let protos = t
            .sequence_values::<LuaString>()
            .map(|p| Ok(p?.as_bytes().to_vec()));
        c.set_alpn(protos.collect::<mlua::Result<_>>()?)
            .map_err(fail)
    })?;
    set("setCipherList", |c, v| {
        c.set_ciphers(&string_arg(v)?, false).map_err(fail)
    })?;
    set("setCipherSuites", |c, v| {
        c.set_ciphers(&string_arg(v)?, true).map_err(fail)
    })?;
    m.set(
        "getCertificate",
        method(lua, "getCertificate", |lua, c: &mut Context, ()| {
            c.certificate()
                .map(|der| push_certificate(lua, der.clone()))
                .transpose()
        })?,
    )?;
    m.set(
        "getCertificateChain",
        method(lua, "getCertificateChain", |lua, c: &mut Context, ()| {
            push_certificates(lua, c.chain())
        })?,
    )?;
    m.set(
        "getStore",
        method(lua, "getStore", |lua, c: &mut Context, ()| {
            lua.create_any_userdata(StoreHandle(c.store()))
        })?,
    )?;
    m.set(
        "setVerify",
        method(
            lua,
            "setVerify",
            |_, c: &mut Context, (mode, depth): (Option<i64>, Option<i64>)| {
                c.set_verify(mode.unwrap_or(c.verify().0), depth);
                Ok(true)
            },
        )?,
    )?;
    m.set(
        "getVerify",
        method(lua, "getVerify", |_, c: &mut Context, ()| Ok(c.verify()))?,
    )?;
    m.set(
        "setOptions",
        method(lua, "setOptions", |_, c: &mut Context, n: i64| {
            Ok(c.set_options(n))
        })?,
    )?;
    m.set(
        "clearOptions",
        method(lua, "clearOptions", |_, c: &mut Context, n: i64| {
            Ok(c.clear_options(n))
        })?,
    )?;
    m.set(
        "getOptions",
        method(lua, "getOptions", |_, c: &mut Context, ()| Ok(c.options()))?,
    )?;
    register_type::<Context>(lua, &m, |_| {})
}

fn string_arg(v: &Value) -> mlua::Result<String> {
    match v {
        Value::String(s) => Ok(s.to_string_lossy()),
        other => Err(fail(format!("string expected, got {}", other.type_name()))),
    }
}

/// The names a self-signed certificate is made for: one string or a table of them.
fn names_arg(v: Value) -> mlua::Result<Option<Vec<String>>> {
    match v {
        Value::Nil => Ok(None),
        Value::String(s) => Ok(Some(vec![s.to_str()?.to_owned()])),
        Value::Table(t) => Ok(Some(
            t.sequence_values::<String>().collect::<mlua::Result<_>>()?,
        )),
        other => Err(fail(format!(
            "host name or table of names expected, got {}",
            other.type_name()
        ))),
    }
}

pub fn open(lua: &Lua, t: &Table) -> mlua::Result<()> {
    context_type(lua)?;
    store_type(lua)?;
    register_type::<PrivateKey>(lua, &lua.create_table()?, |_| {})?;
    for (name, n) in [
        ("VERIFY_NONE", context::VERIFY_NONE),
        ("VERIFY_PEER", context::VERIFY_PEER),
        (
            "VERIFY_FAIL_IF_NO_PEER_CERT",
            context::VERIFY_FAIL_IF_NO_PEER_CERT,
        ),
        ("VERIFY_CLIENT_ONCE", context::VERIFY_CLIENT_ONCE),
        ("OP_NO_COMPRESSION", context::OP_NO_COMPRESSION),
        (
            "OP_CIPHER_SERVER_PREFERENCE",
            context::OP_CIPHER_SERVER_PREFERENCE,
        ),
        ("OP_NO_SSLv3", context::OP_NO_SSLV3),
        ("OP_NO_TLSv1", context::OP_NO_TLSV1),
        ("OP_NO_TLSv1_1", context::OP_NO_TLSV1_1),
        ("OP_NO_TLSv1_2", context::OP_NO_TLSV1_2),
        ("OP_NO_TLSv1_3", context::OP_NO_TLSV1_3),
    ] {
        t.set(name, n)?;
    }
    t.set(
        "new_client_context",
        function(lua, "new_client_context", |lua, ()| {
            lua.create_any_userdata(Context::new(false))
        })?,
    )?;
    t.set(
        "new_server_context",
        function(lua, "new_server_context", |lua, ()| {
            lua.create_any_userdata(Context::new(true))
        })?,
    )?;
    t.set(
        "new_self_signed_server_context",
        function(
            lua,
            "new_self_signed_server_context",
            |lua, names: Value| {
                let ctx = context::self_signed_context(names_arg(names)?).map_err(fail)?;
                lua.create_any_userdata(ctx)
            },
        )?,
    )?;
    t.set(
        "new_store",
        function(lua, "new_store", |lua, ()| {
            lua.create_any_userdata(StoreHandle(context::Store::new(false)))
        })?,
    )?;
    // One certificate object per certificate in the PEM (a full chain gives several).
    t.set(
        "certificate_from_pem",
        function(lua, "certificate_from_pem", |lua, v: Value| {
            let certs = certs_arg(&v)?;
            certs
                .into_iter()
                .map(|c| push_certificate(lua, c))
                .collect::<mlua::Result<mlua::Variadic<_>>>()
        })?,
    )?;
    t.set(
        "private_key_from_pem",
        function(lua, "private_key_from_pem", |lua, v: Value| {
            lua.create_any_userdata(PrivateKey(key_arg(&v)?))
        })?,
    )?;
    Ok(())
}
