//! Replays fuzz inputs through the fuzz targets' own bodies (`fuzz/src/lib.rs`), with no
//! libFuzzer and no nightly toolchain: for each target, every committed seed in
//! `fuzz/seeds/<target>/` (the hand-made inputs and the `regression_*` inputs that once crashed
//! a target or broke an invariant, kept with their fix), which must exist and not be empty, and
//! then, when this checkout has one, the evolved corpus `scripts/fuzz` keeps outside git in
//! `fuzz/corpus/<target>/` (absent in a fresh clone, and then skipped).
//!
//! The bodies are compiled here from the fuzz crate's source file, the one `#[path]` include
//! of the tests: presign-url's tests can reach everything they use, and the fuzz crate stays
//! outside the workspace, as cargo fuzz wants (as a dependency it would bring libFuzzer in,
//! and its own workspace and lock file would have to join this one).

#[allow(unreachable_pub, dead_code)]
#[path = "../../../../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};

use stsvend_test_support::workspace_path;

/// Runs every seed of `target`, then every file of its local corpus if there is one, through
/// `body`, naming the file that fails.
fn replay(target: &str, body: fn(&[u8])) {
    let fuzz = workspace_path("fuzz");
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

/// One test per target, named after it.
macro_rules! replay_tests {
    ($($target:ident),+ $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target), targets::$target);
            }
        )+
    };
}

replay_tests!(
    presign_query,
    presign_json,
    policy_render,
    jwt,
    jwt_claims,
    jwks,
    record_callback,
    record_s3_event,
    record_oss_event
);
