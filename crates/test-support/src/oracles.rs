//! The Python side: the oracle SDKs and moto's STS in the workspace's `.venv`
//! (`scripts/test` installs them).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::workspace_path;

/// A real STS: moto's server on 127.0.0.1 with signature checking on
/// (`scripts/oracles/moto_sts.py`). Returns the process (close its stdin to stop it) and what
/// it printed: `endpoint`, `access_key_id`, `secret_access_key`, `role_arn`.
pub fn start_moto() -> (Child, serde_json::Value) {
    start_moto_with(&[])
}

/// [`start_moto`] with the script's arguments (`--no-auth`: signature checking off, which
/// unsigned web-identity exchanges need with moto 5.2.5).
pub fn start_moto_with(args: &[&str]) -> (Child, serde_json::Value) {
    let script = workspace_path("scripts/oracles/moto_sts.py");
    let mut moto = Command::new(python())
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto (run scripts/test, which installs it)");
    let mut line = String::new();
    BufReader::new(moto.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("moto's first line");
    let found = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (moto, found)
}

/// The Python with the oracle SDKs and moto: `STSVEND_PYTHON`, or the workspace's `.venv`.
pub fn python() -> String {
    std::env::var("STSVEND_PYTHON")
        .unwrap_or_else(|_| workspace_path(".venv/bin/python").display().to_string())
}
