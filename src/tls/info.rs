//! What a finished handshake negotiated, for Lua as luaossl's `openssl.ssl` object reports it
//! (what `connection:checktls()` returns), and certificates as small `openssl.x509`-like objects.

use super::{ciphers, pem};
use crate::runtime::{error, method, register_type};
use mlua::{AnyUserData, Lua, LuaString, Table, UserDataMethods, Value};
use rustls::crypto::hash::Hash;
use rustls::crypto::ring::cipher_suite as cs;
use rustls::pki_types::CertificateDer;
use rustls::{
    ClientConnection, CommonState, ProtocolVersion, ServerConnection, SupportedCipherSuite,
};

#[derive(Clone)]
pub struct TlsInfo {
    pub alpn: Option<Vec<u8>>,
    pub version: Option<ProtocolVersion>,
    pub cipher: Option<SupportedCipherSuite>,
    /// The name the client asked for (SNI). `from_client` cannot know it: the client sets it.
    pub sni: Option<String>,
    /// The peer's chain, its own certificate first; empty when it sent none.
    pub peer_certificates: Vec<CertificateDer<'static>>,
}

impl TlsInfo {
    fn from_common(c: &CommonState) -> TlsInfo {
        TlsInfo {
            alpn: c.alpn_protocol().map(<[u8]>::to_vec),
            version: c.protocol_version(),
            cipher: c.negotiated_cipher_suite(),
            sni: None,
            peer_certificates: c.peer_certificates().map(<[_]>::to_vec).unwrap_or_default(),
        }
    }

    #[allow(dead_code)]
    pub fn from_server(conn: &ServerConnection) -> TlsInfo {
        TlsInfo {
            sni: conn.server_name().map(str::to_owned),
            ..TlsInfo::from_common(conn)
        }
    }

    #[allow(dead_code)]
    pub fn from_client(conn: &ClientConnection) -> TlsInfo {
        TlsInfo::from_common(conn)
    }
}

/// An X.509 certificate (DER) as a Lua object.
pub struct Certificate(pub CertificateDer<'static>);

fn hasher(alg: &str) -> Option<&'static dyn Hash> {
    let suite = match alg.to_ascii_lowercase().as_str() {
        "sha256" => cs::TLS13_AES_128_GCM_SHA256,
        "sha384" => cs::TLS13_AES_256_GCM_SHA384,
        _ => return None,
    };
    match suite {
        SupportedCipherSuite::Tls12(s) => Some(s.common.hash_provider),
        SupportedCipherSuite::Tls13(s) => Some(s.common.hash_provider),
    }
}

/// luaossl's `x509:digest([type [, format]])` for SHA-256 (the default here; luaossl's is
/// SHA-1, which ring offers rustls only for legacy signatures) and SHA-384: "x" hex, "s" bytes.
fn digest(
    lua: &Lua,
    der: &[u8],
    alg: Option<String>,
    fmt: Option<String>,
) -> mlua::Result<LuaString> {
    let alg = alg.unwrap_or_else(|| "sha256".into());
    let Some(h) = hasher(&alg) else {
        return error(format!("unsupported digest '{alg}' (sha256 or sha384)"));
    };
    let out = h.hash(der);
    match fmt.as_deref().unwrap_or("x") {
        "x" => lua.create_string(
            out.as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        ),
        "s" => lua.create_string(out.as_ref()),
        other => error(format!("invalid digest format '{other}' (\"x\" or \"s\")")),
    }
}

fn certificate_type(lua: &Lua) -> mlua::Result<()> {
    let m = lua.create_table()?;
    m.set(
        "toPEM",
        method(lua, "toPEM", |_, c: &mut Certificate, ()| {
            Ok(pem::encode(&c.0))
        })?,
    )?;
    m.set(
        "tostring",
        method(
            lua,
            "tostring",
            |lua, c: &mut Certificate, fmt: Option<String>| match fmt
                .as_deref()
                .unwrap_or("PEM")
                .to_ascii_uppercase()
                .as_str()
            {
                "PEM" => lua.create_string(pem::encode(&c.0)),
                "DER" => lua.create_string(&c.0),
                _ => error("invalid format (\"PEM\" or \"DER\")"),
            },
        )?,
    )?;
    m.set(
        "digest",
        method(
            lua,
            "digest",
            |lua, c: &mut Certificate, (alg, fmt): (Option<String>, Option<String>)| {
                digest(lua, &c.0, alg, fmt)
            },
        )?,
    )?;
    register_type::<Certificate>(lua, &m, |reg| {
        reg.add_meta_method("__tostring", |_, c, ()| Ok(pem::encode(&c.0)));
    })
}

pub fn push_certificate(lua: &Lua, der: CertificateDer<'static>) -> mlua::Result<AnyUserData> {
    lua.create_any_userdata(Certificate(der))
}

pub fn push_certificates(lua: &Lua, certs: &[CertificateDer<'static>]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(certs.len(), 0)?;
    for c in certs {
        t.raw_push(push_certificate(lua, c.clone())?)?;
    }
    Ok(t)
}

fn info_type(lua: &Lua) -> mlua::Result<()> {
    let m = lua.create_table()?;
    m.set(
        "getAlpnSelected",
        method(lua, "getAlpnSelected", |lua, i: &mut TlsInfo, ()| {
            i.alpn.as_ref().map(|p| lua.create_string(p)).transpose()
        })?,
    )?;
    // luaossl's formats: the wire number (772 for TLS 1.3) by default or with "d", 3.4 with
    // "f"; ours also gives "TLSv1.3" with "s".
    m.set(
        "getVersion",
        method(
            lua,
            "getVersion",
            |lua, i: &mut TlsInfo, fmt: Option<String>| {
                let Some(v) = i.version else {
                    return Ok(Value::Nil);
                };
                let n = u16::from(v);
                match fmt.as_deref().unwrap_or("d") {
                    "d" => Ok(Value::Integer(n.into())),
                    "f" => Ok(Value::Number(
                        f64::from(n >> 8) + f64::from(n & 0xff) / 10.0,
                    )),
                    "s" => match v.as_str() {
                        Some(s) => Ok(Value::String(lua.create_string(s.replace('_', "."))?)),
                        None => Ok(Value::Nil),
                    },
                    other => error(format!("invalid option '{other}'")),
                }
            },
        )?,
    )?;
    m.set(
        "getCipherInfo",
        method(lua, "getCipherInfo", |lua, i: &mut TlsInfo, ()| {
            let Some(s) = i.cipher.and_then(|c| ciphers::by_suite(c.suite())) else {
                return Ok(None);
            };
            let t = lua.create_table()?;
            t.set("name", s.name)?;
            t.set("bits", s.bits)?;
            let tls13 = matches!(s.suite, SupportedCipherSuite::Tls13(_));
            t.set("version", if tls13 { "TLSv1.3" } else { "TLSv1.2" })?;
            Ok(Some(t))
        })?,
    )?;
    m.set(
        "getHostName",
        method(lua, "getHostName", |_, i: &mut TlsInfo, ()| {
            Ok(i.sni.clone())
        })?,
    )?;
    m.set(
        "getPeerCertificate",
        method(lua, "getPeerCertificate", |lua, i: &mut TlsInfo, ()| {
            i.peer_certificates
                .first()
                .map(|c| push_certificate(lua, c.clone()))
                .transpose()
        })?,
    )?;
    m.set(
        "getPeerChain",
        method(lua, "getPeerChain", |lua, i: &mut TlsInfo, ()| {
            push_certificates(lua, &i.peer_certificates)
        })?,
    )?;
    register_type::<TlsInfo>(lua, &m, |_| {})
}

/// The Lua object for a finished handshake.
#[allow(dead_code)]
pub fn push_tls_info(lua: &Lua, info: TlsInfo) -> mlua::Result<AnyUserData> {
    lua.create_any_userdata(info)
}

pub fn register(lua: &Lua) -> mlua::Result<()> {
    certificate_type(lua)?;
    info_type(lua)
}
