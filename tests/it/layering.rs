//! The shape of the code, where the compiler cannot see it. The crates keep the big lines:
//! `stsvend-sign` (crates/sign) is below `stsvend`, which is below `stsvend-host`
//! (crates/host), and cargo refuses a cycle. What is left to check here: the signing crate's
//! manifest names no I/O crate; inside `stsvend`, whose layers are private modules of one
//! crate, each names only the layers before it (base: `caller`, `transport`; `keyless/`;
//! `vend/`; `identity/`, base only); and the keyless sources name no I/O crate. (No function
//! outside tests runs over 80 lines: clippy's `too_many_lines`, configured in `clippy.toml`,
//! checks that in every crate.)
//!
//! The checks read the source as text (a light lexer that skips comments, strings and
//! `#[cfg(test)]` modules), so they see what a reader sees.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `source` with comments, string and char literals blanked (newlines kept), so that what
/// remains is code.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push_str("  ");
            i += 2;
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_string_at(&chars, i) {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            let close: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            let start = i + 2 + hashes;
            let rest: String = chars[start..].iter().collect();
            let len = rest.find(&close).map_or(rest.len(), |at| at + close.len());
            for ch in chars[i..start + rest[..len].chars().count()].iter() {
                out.push(blank(*ch));
            }
            i = start + rest[..len].chars().count();
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && char_literal_len(&chars, i).is_some() {
            let len = char_literal_len(&chars, i).unwrap_or(1);
            out.push_str(&" ".repeat(len));
            i += len;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether `r` at `i` starts a raw string (`r"…"`, `r#"…"#`) rather than ending a name.
fn raw_string_at(chars: &[char], i: usize) -> bool {
    let before_is_name = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let after = chars[i + 1..].iter().find(|&&h| h != '#');
    !before_is_name && after == Some(&'"')
}

/// The length of a char literal at `i` (`'{'`, `'\n'`, `'\u{202e}'`), or `None` for a
/// lifetime.
fn char_literal_len(chars: &[char], i: usize) -> Option<usize> {
    match chars.get(i + 1)? {
        '\\' => chars[i + 2..]
            .iter()
            .position(|&c| c == '\'')
            .map(|at| at + 3),
        _ if chars.get(i + 2) == Some(&'\'') => Some(3),
        _ => None,
    }
}

/// `code` without its `#[cfg(test)]` items (the test modules).
fn without_tests(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let end = item
            .find('{')
            .map_or(item.len(), |open| matching_brace(item, open) + 1);
        out.extend(
            item[..end]
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' }),
        );
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The index of the `}` that closes the `{` at `open`.
fn matching_brace(code: &str, open: usize) -> usize {
    let mut depth = 0usize;
    for (i, b) in code.bytes().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    code.len() - 1
}

/// The production code of a file: no comments, literals or test modules.
fn production_code(path: &Path) -> String {
    let source =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    without_tests(&code_only(&source))
}

/// The names of `code` (identifiers and `::` paths), in order.
fn paths(code: &str) -> Vec<String> {
    code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Files under `dir` that name any of `forbidden` (a path equal to it or starting with it
/// followed by `::`), as `file: name` lines.
fn naming(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in rust_files(&root().join(dir)) {
        for path in paths(&production_code(&file)) {
            let hit = forbidden.iter().find(|f| {
                path == **f
                    || path.starts_with(&format!("{f}::"))
                    || path.contains(&format!("::{}", f.trim_start_matches("crate::")))
                        && f.starts_with("crate::")
                        && path.starts_with("crate::")
            });
            if let Some(name) = hit {
                found.push(format!("{}: {name}", file.display()));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The names of the `[dependencies]` of the crate at `manifest` (a plain reading of its
/// TOML: one `name = …` or `name.workspace = true` per line).
fn dependencies(manifest: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(manifest)).expect("manifest");
    let section = text
        .split("\n[dependencies]\n")
        .nth(1)
        .expect("a [dependencies] table");
    let section = section.split("\n[").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|line| line.split(['=', '.']).next())
        .map(str::trim)
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The compiler keeps the signing crate from naming the library's upper layers (it cannot
/// see them); what it cannot keep is an I/O crate added to its own dependencies.
#[test]
fn the_signing_crate_depends_on_no_io_crate() {
    let names = dependencies("crates/sign/Cargo.toml");
    assert!(
        names.contains(&"ring".to_owned()),
        "read the table: {names:?}"
    );
    for io in [
        "tokio",
        "hyper",
        "hyper-util",
        "reqwest",
        "lambda_http",
        "stsvend",
    ] {
        assert!(
            !names.contains(&io.to_owned()),
            "crates/sign depends on {io}"
        );
    }
}

#[test]
fn the_keyless_sources_name_no_io_crate() {
    let found = naming(
        "src/keyless/sources",
        &["tokio", "hyper", "hyper_util", "reqwest", "lambda_http"],
    );
    assert!(
        found.is_empty(),
        "src/keyless/sources names:\n{}",
        found.join("\n")
    );
}

#[test]
fn each_layer_names_only_the_layers_below_it() {
    // The signing crate's base types (error, time, credential, provider) are below this
    // crate by construction; these are the base modules that live here.
    let base = ["caller", "transport"];
    let mut found = Vec::new();
    for file in base {
        let path = root().join("src").join(format!("{file}.rs"));
        for name in paths(&production_code(&path)) {
            for layer in ["crate::keyless", "crate::vend", "crate::identity"] {
                if name == layer || name.starts_with(&format!("{layer}::")) {
                    found.push(format!("{}: {name}", path.display()));
                }
            }
        }
    }
    found.extend(naming("src/keyless", &["crate::vend", "crate::identity"]));
    found.extend(naming("src/vend", &["crate::identity"]));
    found.extend(naming(
        "src/identity",
        &["crate::sign", "crate::keyless", "crate::vend"],
    ));
    assert!(found.is_empty(), "upward names:\n{}", found.join("\n"));
}

#[test]
fn the_checks_see_code_not_comments_strings_or_tests() {
    let source = r##"
// crate::host in a comment
/* tokio in a block comment */
fn short() { let s = "reqwest {"; let c = '{'; let r = r#"lambda_http }"#; }
#[cfg(test)]
mod tests { use crate::host::config; fn long() {} }
"##;
    let code = without_tests(&code_only(source));
    assert!(
        paths(&code)
            .iter()
            .all(|p| !p.contains("host") && p != "tokio")
    );
    assert!(code.contains("fn short()") && !code.contains("fn long()"));
}
