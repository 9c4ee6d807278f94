//! http.core: the native core of our lua-http. `require "http.core"` returns one table with a
//! sub-table per lua-http module; the files in lua/http/ hand those out under lua-http's names.

mod runtime;

mod bit;
mod client;
mod connection_common;
mod cookie;
mod h1_connection;
mod h1_reason_phrases;
mod h2_error;
mod headers;
mod hpack;
mod hsts;
mod proxies;
mod request;
mod server;
mod socket;
mod socks;
mod stream_common;
mod tls;
mod util;
mod version;
mod websocket;
mod zlib;

use mlua::{Lua, Table};

/// Our Rust allocations use mimalloc: much of what an I/O thread allocates (header lists, body
/// chunks, outcomes) is freed on the Lua thread, which glibc's per-thread caches handle badly
/// (callgrind, 50 client requests in flight: 136k -> 129k instructions per request on the Lua
/// thread, 32k -> 29k on the I/O threads). Lua's own allocations are the host's business.
/// Built with local-dynamic TLS (this library is loaded with dlopen); its arenas are committed
/// as they are used, not up front, so an idle connection costs what it holds (12.7 KB, not 20.5).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    fn mi_option_set(option: std::os::raw::c_int, value: std::os::raw::c_long);
}
/// `mi_option_arena_eager_commit` in mimalloc.h's `mi_option_e`.
const MI_OPTION_ARENA_EAGER_COMMIT: std::os::raw::c_int = 4;

/// Set when the library is loaded, before the first allocation creates an arena.
#[used]
#[link_section = ".init_array"]
static MIMALLOC_OPTIONS: extern "C" fn() = {
    extern "C" fn set() {
        unsafe { mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
    }
    set
};

#[mlua::lua_module(name = "http_core")]
fn http_core(lua: &Lua) -> mlua::Result<Table> {
    // mlua then skips its protected calls for operations that can fail only when Lua runs out
    // of memory (on LuaJIT each costs a C closure and a pcall: most of a request's overhead).
    lua.skip_memory_check(true);
    let core = lua.create_table()?;
    runtime::open(lua, &core)?;
    core.set("version", version::open(lua)?)?;
    core.set("bit", bit::open(lua)?)?;
    core.set("h1_reason_phrases", h1_reason_phrases::open(lua)?)?;
    core.set("h2_error", h2_error::open(lua)?)?;
    core.set("util", util::open(lua)?)?;
    core.set("headers", headers::open(lua)?)?;
    core.set("zlib", zlib::open(lua)?)?;
    core.set("cookie", cookie::open(lua)?)?;
    core.set("hsts", hsts::open(lua)?)?;
    core.set("proxies", proxies::open(lua)?)?;
    core.set("hpack", hpack::open(lua)?)?;
    core.set("stream", stream_common::open(lua)?)?;
    core.set("server", server::open(lua)?)?;
    core.set("socket", socket::open(lua)?)?;
    core.set("socks", socks::open(lua)?)?;
    core.set("client", client::open(lua)?)?;
    core.set("request", request::open(lua)?)?;
    core.set("tls", tls::open(lua)?)?;
    core.set("websocket", websocket::open(lua)?)?;
    Ok(core)
}
