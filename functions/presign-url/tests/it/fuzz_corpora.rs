//! Replays the committed fuzz inputs, the hand-made seeds (`fuzz/seeds/<target>/`) and what
//! the fuzzer kept (`fuzz/corpus/<target>/`), through the fuzz targets' own bodies
//! (`fuzz/src/lib.rs`), so that every one of them, and every crash once found and fixed, is
//! rerun by `cargo test` with no libFuzzer and no nightly toolchain.
//!
//! The bodies are compiled here from the fuzz crate's source file, the one `#[path]` include
//! of the tests: presign-url's tests can reach everything they use, and the fuzz crate stays
//! outside the workspace, as cargo fuzz wants (as a dependency it would bring libFuzzer in,
//! and its own workspace and lock file would have to join this one).

#[allow(unreachable_pub, dead_code)]
#[path = "../../../../fuzz/src/lib.rs"]
mod targets;

use std::path::PathBuf;

use stsvend_test_support::workspace_path;

/// Runs every seed and corpus file of `target` through `body`, naming the file that fails.
fn replay(target: &str, body: fn(&[u8])) {
    let fuzz = workspace_path("fuzz");
    for kind in ["seeds", "corpus"] {
        let folder = fuzz.join(kind).join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", folder.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} is empty", folder.display());
        for file in &files {
            let data = std::fs::read(file).expect("a fuzz input");
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                panic!("{} fails (the assertion is printed above)", file.display());
            }
        }
    }
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
    sts_json,
    sts_xml,
    jwt,
    jwt_claims,
    jwks,
    record_callback,
    record_s3_event,
    record_oss_event
);
