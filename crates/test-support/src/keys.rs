//! Object keys a user may type, for the presigning corpora of both providers.

/// Keys a user may type, each under the caller's prefix (ALGORITHMS.md §5 lists where SDKs
/// have been seen to differ; all of these must verify with both).
pub fn awkward_keys(prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = [
        "a.txt",
        "a b.txt",
        "a+b.txt",
        "plus+plus+",
        "100%.txt",
        "percent%25",
        "a%20b.txt",
        "%2F.txt",
        "中文.txt",
        "arabic/مرحبا",
        "korean/안녕하세요.doc",
        "😀.png",
        "emoji/👍🏽/x",
        "~*!'().txt",
        "star*",
        "paren(1).jpg",
        "excl!.jpg",
        "'quote'.txt",
        "\"double\".txt",
        // (`a//b.txt` is refused: an empty segment, which proxies that merge slashes would
        // serve as another object.)
        "dir/",
        "nested/very/deep/path/file.tar.gz",
        "a?b.txt",
        "a&b=c.txt",
        "hash#tag",
        "=.txt",
        ";,:@$.txt",
        "semi;colon",
        "comma,file",
        "at@sign",
        "dollar$",
        "[]{}.txt",
        "^|`.txt",
        "<>.txt",
        "back\\slash.txt",
        "caf\u{e9}-nfc.txt",
        "cafe\u{301}-nfd.txt",
        "..a.txt",
        "a..b",
        "dots.../x",
        "-_.~",
        "UPPER/Case.TXT",
        "trailing space .txt",
        " leading-space.txt",
        "tab\u{2003}em-space",
    ]
    .iter()
    .map(|k| format!("{prefix}{k}"))
    .collect();
    keys.push(format!("{prefix}{}", "k".repeat(1023 - prefix.len())));
    keys
}
