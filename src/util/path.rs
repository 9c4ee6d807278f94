//! `resolve_relative_path`: RFC 3986 section 5.2.2 for the path, query and fragment of a
//! reference against a base request path (an origin-form `:path`, possibly with a query).

/// Strip the last segment (and its '/') from `out`: the ".." step of remove_dot_segments.
fn pop_segment(out: &mut Vec<u8>) {
    let keep = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
    out.truncate(keep);
}

/// RFC 3986 section 5.2.4, with room for `extra` more bytes.
fn remove_dot_segments(mut input: &[u8], extra: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + extra);
    while !input.is_empty() {
        if input.starts_with(b"../") {
            input = &input[3..];
        } else if input.starts_with(b"./") || input.starts_with(b"/./") {
            input = &input[2..];
        } else if input == b"/." {
            input = b"/";
        } else if input.starts_with(b"/../") || input == b"/.." {
            input = if input.len() == 3 { b"/" } else { &input[3..] };
            pop_segment(&mut out);
        } else if input == b"." || input == b".." {
            input = b"";
        } else {
            let from = usize::from(input[0] == b'/');
            let end = input[from..]
                .iter()
                .position(|&b| b == b'/')
                .map_or(input.len(), |i| from + i);
            out.extend_from_slice(&input[..end]);
            input = &input[end..];
        }
    }
    out
}

/// Where the path of a path-and-query ends (at '?' or '#').
fn path_end(s: &[u8]) -> usize {
    s.iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(s.len())
}

/// The target of reference `rel` resolved against `base` (RFC 3986 section 5.2.2, without
/// scheme or authority: both are paths here).
pub fn resolve(base: &[u8], rel: &[u8]) -> Vec<u8> {
    let (rpath, rtail) = rel.split_at(path_end(rel));
    let (bpath, btail) = base.split_at(path_end(base));
    let mut out = if rpath.is_empty() {
        // the base path, and the base's query unless the reference has one
        let bquery = if rtail.starts_with(b"?") {
            &b""[..]
        } else {
            btail
                .iter()
                .position(|&b| b == b'#')
                .map_or(btail, |i| &btail[..i])
        };
        [bpath, bquery].concat()
    } else if rpath[0] == b'/' {
        remove_dot_segments(rpath, rtail.len())
    } else {
        let dir = bpath.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
        remove_dot_segments(&[&bpath[..dir], rpath].concat(), rtail.len())
    };
    out.extend_from_slice(rtail);
    out
}

#[cfg(test)]
mod tests {
    use super::resolve;

    /// RFC 3986 section 5.4 (paths only: base "http://a/b/c/d;p?q").
    #[test]
    fn rfc_examples() {
        let cases: &[(&str, &str)] = &[
            ("g", "/b/c/g"),
            ("./g", "/b/c/g"),
            ("g/", "/b/c/g/"),
            ("/g", "/g"),
            ("?y", "/b/c/d;p?y"),
            ("g?y", "/b/c/g?y"),
            ("#s", "/b/c/d;p?q#s"),
            ("g#s", "/b/c/g#s"),
            ("g?y#s", "/b/c/g?y#s"),
            (";x", "/b/c/;x"),
            ("g;x", "/b/c/g;x"),
            ("g;x?y#s", "/b/c/g;x?y#s"),
            ("", "/b/c/d;p?q"),
            (".", "/b/c/"),
            ("./", "/b/c/"),
            ("..", "/b/"),
            ("../", "/b/"),
            ("../g", "/b/g"),
            ("../..", "/"),
            ("../../", "/"),
            ("../../g", "/g"),
            ("../../../g", "/g"),
            ("../../../../g", "/g"),
            ("/./g", "/g"),
            ("/../g", "/g"),
            ("g.", "/b/c/g."),
            (".g", "/b/c/.g"),
            ("g..", "/b/c/g.."),
            ("..g", "/b/c/..g"),
            ("./../g", "/b/g"),
            ("./g/.", "/b/c/g/"),
            ("g/./h", "/b/c/g/h"),
            ("g/../h", "/b/c/h"),
            ("g;x=1/./y", "/b/c/g;x=1/y"),
            ("g;x=1/../y", "/b/c/y"),
            ("g?y/./x", "/b/c/g?y/./x"),
            ("g?y/../x", "/b/c/g?y/../x"),
            ("g#s/./x", "/b/c/g#s/./x"),
            ("g#s/../x", "/b/c/g#s/../x"),
        ];
        for (rel, want) in cases {
            let got = resolve(b"/b/c/d;p?q", rel.as_bytes());
            assert_eq!(String::from_utf8_lossy(&got), *want, "reference {rel:?}");
        }
    }

    #[test]
    fn odd_bases() {
        assert_eq!(resolve(b"", b"g"), b"g");
        assert_eq!(resolve(b"/a?x=/y", b"g"), b"/g");
        assert_eq!(resolve(b"/a/./b/../c", b"d"), b"/a/d");
        assert_eq!(resolve(b"/a/b", b"../../../c"), b"/c");
    }
}
