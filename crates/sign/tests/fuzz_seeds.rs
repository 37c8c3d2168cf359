//! Replays the signing crate's fuzz inputs through its fuzz targets' own bodies
//! (`crates/sign/fuzz/src/lib.rs`), with no libFuzzer and no nightly toolchain: every
//! committed seed in `crates/sign/fuzz/seeds/<target>/`, which must exist and not be empty,
//! then the evolved corpus `scripts/fuzz` keeps outside git in `crates/sign/fuzz/corpus/`
//! when this checkout has one.
//!
//! The bodies are compiled here from the fuzz package's source file: they use the signing
//! crate alone, and the fuzz package stays outside the workspace, as cargo fuzz wants.

#[allow(unreachable_pub, dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};

/// Runs every seed of `target`, then every file of its local corpus if there is one, through
/// `body`, naming the file that fails.
fn replay(target: &str, body: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let seeds = fuzz.join("seeds").join(target);
    let seed_files =
        inputs(&seeds).unwrap_or_else(|e| panic!("cannot read {}: {e}", seeds.display()));
    assert!(!seed_files.is_empty(), "{} is empty", seeds.display());
    let corpus = fuzz.join("corpus").join(target);
    let corpus_files = match inputs(&corpus) {
        Ok(files) => files,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot read {}: {e}", corpus.display()),
    };
    for file in seed_files.iter().chain(&corpus_files) {
        let data = std::fs::read(file).expect("a fuzz input");
        if std::panic::catch_unwind(|| body(&data)).is_err() {
            panic!("{} fails (the assertion is printed above)", file.display());
        }
    }
}

/// The files of `folder`, sorted.
fn inputs(folder: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = std::fs::read_dir(folder)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<Vec<PathBuf>>>()?;
    files.sort();
    Ok(files)
}

#[test]
fn sts_json() {
    replay("sts_json", targets::sts_json);
}

#[test]
fn sts_xml() {
    replay("sts_xml", targets::sts_xml);
}
