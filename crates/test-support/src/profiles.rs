//! The upload profiles file the functions' tests start with (`PROFILES_FILE`): three kinds
//! of upload, as the issue that asked for profiles describes them, written where a test run
//! keeps its files; and a runner for a binary that must refuse to start.

use std::path::Path;
use std::process::Command;

/// An avatar (server-chosen key, images only, 1 byte to 2 MiB, served inline), an attachment
/// (the client's key, any type up to 100 MiB, downloaded) and a video (multipart up to 5 GiB,
/// served as an attachment, record-upload reports violations); requests without `profile`
/// get an attachment.
pub const PROFILES: &str = r#"
default_profile = "attachment"

[profiles.avatar]
prefix = "avatars/${sub}/"
key = "${uuid}${ext}"
methods = ["PUT", "POST", "GET", "HEAD", "LIST"]
content_types = ["image/png", "image/jpeg", "image/webp"]
min_bytes = 1
max_bytes = 2097152
content_disposition = "inline"
metadata = { uploader = "${sub}", kind = "avatar" }
expires = 600
detect_type = true

[profiles.attachment]
prefix = "attachments/${sub}/"
max_bytes = 104857600
content_disposition = "attachment"

[profiles.video]
prefix = "videos/${sub}/"
methods = ["PUT", "GET"]
content_types = ["video/*"]
max_bytes = 5368709120
content_disposition = "attachment"
on_violation = "report"
"#;

/// Writes `text` as `<dir>/<name>.toml` and returns its path.
pub fn write(dir: &str, name: &str, text: &str) -> String {
    let dir = Path::new(dir).join("profiles");
    std::fs::create_dir_all(&dir).expect("profiles dir");
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write profiles file");
    path.display().to_string()
}

/// Runs `binary` with only `envs` (and `PORT=0`), expecting it to refuse to start: its exit
/// code and everything it wrote.
pub fn refused_start(binary: &str, envs: &[(&str, String)]) -> (Option<i32>, String) {
    let output = Command::new(binary)
        .env_clear()
        .env("PORT", "0")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), text)
}
