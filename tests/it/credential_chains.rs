//! Which source stsvend takes its own credentials from, for a table of environments (which
//! variables and files are present, and whether an instance metadata service answers). The
//! table and stsvend's choices go to `$CARGO_TARGET_TMPDIR/credential-chains.jsonl`, where
//! `scripts/oracles/credential_chains.py` has the official chains (botocore's default
//! resolver, alibabacloud_credentials' default chain) choose for the same environments.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;
use stsvend::CredentialSource;
use stsvend_host::Config;

/// One environment: the provider, its variables, the files under `HOME`, and whether the
/// instance metadata service answers there.
struct Row {
    provider: &'static str,
    vars: &'static [(&'static str, &'static str)],
    files: &'static [(&'static str, &'static str)],
    metadata: bool,
}

const ALIYUN_CLI: &str = r#"{"current":"main","profiles":[{"name":"main","mode":"AK","access_key_id":"LTAI-cli","access_key_secret":"cli-secret"},{"name":"ecs","mode":"EcsRamRole","ram_role_name":"cli-role"}]}"#;
const ALIYUN_INI: &str =
    "[default]\ntype = access_key\naccess_key_id = LTAI-ini\naccess_key_secret = ini-secret\n";
const AWS_CREDENTIALS: &str =
    "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n";
const AWS_CONFIG: &str =
    "[default]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = config-secret\n";
const TOKEN: (&str, &str) = ("token", "eyJ.token.file");

const ROWS: &[Row] = &[
    Row {
        provider: "aliyun",
        vars: &[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-env"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s"),
        ],
        files: &[(".aliyun/config.json", ALIYUN_CLI)],
        metadata: true,
    },
    Row {
        provider: "aliyun",
        vars: &[
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "@token"),
            ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r"),
            (
                "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
                "acs:ram::1:oidc-provider/p",
            ),
        ],
        files: &[TOKEN, (".aliyun/config.json", ALIYUN_CLI)],
        metadata: true,
    },
    Row {
        provider: "aliyun",
        vars: &[
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "@token"),
            ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/r"),
        ],
        files: &[TOKEN],
        metadata: true,
    },
    Row {
        provider: "aliyun",
        vars: &[],
        files: &[
            (".aliyun/config.json", ALIYUN_CLI),
            (".alibabacloud/credentials.ini", ALIYUN_INI),
        ],
        metadata: true,
    },
    Row {
        provider: "aliyun",
        vars: &[("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")],
        files: &[
            (".aliyun/config.json", ALIYUN_CLI),
            (".alibabacloud/credentials.ini", ALIYUN_INI),
        ],
        metadata: true,
    },
    Row {
        provider: "aliyun",
        vars: &[("ALIBABA_CLOUD_PROFILE", "ecs")],
        files: &[(".aliyun/config.json", ALIYUN_CLI)],
        metadata: true,
    },
    Row {
        provider: "aliyun",
        vars: &[("ALIBABA_CLOUD_ECS_METADATA", "role-a")],
        files: &[],
        metadata: true,
    },
    Row {
        provider: "aliyun",
        vars: &[],
        files: &[],
        metadata: true,
    },
    Row {
        provider: "aliyun",
        vars: &[],
        files: &[],
        metadata: false,
    },
    Row {
        provider: "aliyun",
        vars: &[("ALIBABA_CLOUD_CREDENTIALS_URI", "http://127.0.0.1:9/c")],
        files: &[],
        metadata: false,
    },
    Row {
        provider: "aliyun",
        vars: &[
            ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true"),
            ("ALIBABA_CLOUD_CREDENTIALS_URI", "http://127.0.0.1:9/c"),
        ],
        files: &[],
        metadata: true,
    },
    Row {
        provider: "aws",
        vars: &[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ],
        files: &[(".aws/credentials", AWS_CREDENTIALS)],
        metadata: true,
    },
    Row {
        provider: "aws",
        vars: &[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "@token"),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r"),
        ],
        files: &[TOKEN, (".aws/credentials", AWS_CREDENTIALS)],
        metadata: true,
    },
    Row {
        provider: "aws",
        vars: &[],
        files: &[
            (".aws/credentials", AWS_CREDENTIALS),
            (".aws/config", AWS_CONFIG),
        ],
        metadata: true,
    },
    Row {
        provider: "aws",
        vars: &[],
        files: &[(".aws/config", AWS_CONFIG)],
        metadata: true,
    },
    Row {
        provider: "aws",
        vars: &[(
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/x",
        )],
        files: &[],
        metadata: true,
    },
    Row {
        provider: "aws",
        vars: &[
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://169.254.170.23/v1/credentials",
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "@token"),
        ],
        files: &[TOKEN, (".aws/config", AWS_CONFIG)],
        metadata: true,
    },
    Row {
        provider: "aws",
        vars: &[],
        files: &[],
        metadata: true,
    },
    Row {
        provider: "aws",
        vars: &[],
        files: &[],
        metadata: false,
    },
    Row {
        provider: "aws",
        vars: &[("AWS_EC2_METADATA_DISABLED", "true")],
        files: &[],
        metadata: true,
    },
];

/// The source's kind, in the words the oracle script maps both chains' answers to.
fn kind(source: &CredentialSource, home: &Path) -> String {
    let home = home.display().to_string();
    match source {
        CredentialSource::Static { origin, .. } => match origin.strip_prefix(&home) {
            Some("/.aliyun/config.json") => "cli_profile",
            Some("/.alibabacloud/credentials.ini") => "profile_file",
            Some("/.aws/credentials") => "shared_credentials_file",
            Some("/.aws/config") => "config_file",
            _ => "environment",
        },
        CredentialSource::AliyunOidc { .. } => "oidc",
        CredentialSource::AwsWebIdentity(_) => "web_identity",
        CredentialSource::AwsContainer { .. } => "container",
        CredentialSource::AwsInstanceMetadata { .. }
        | CredentialSource::AliyunEcsRamRole { .. } => "instance_metadata",
        CredentialSource::AliyunCredentialsUri { .. } => "credentials_uri",
        CredentialSource::Unneeded => "none",
    }
    .to_owned()
}

/// What stsvend chooses for `row`: the source's kind, `none` when start-up stops (at
/// configuration, or at cold start when the instance metadata, used because nothing else
/// was named, does not answer).
fn stsvend_choice(row: &Row, home: &Path, vars: &BTreeMap<String, String>) -> String {
    let mut all = vars.clone();
    all.insert("PROVIDER".into(), row.provider.into());
    all.insert("BUCKET".into(), "examplebucket".into());
    all.insert(
        "BUCKET_REGION".into(),
        if row.provider == "aws" {
            "us-east-1"
        } else {
            "cn-hangzhou"
        }
        .into(),
    );
    match Config::load(&|k| all.get(k).cloned()) {
        Ok(config) => {
            let chosen = kind(config.sts.credentials.source(), home);
            if chosen == "instance_metadata" && !row.metadata {
                "none".to_owned()
            } else {
                chosen
            }
        }
        Err(_) => "none".to_owned(),
    }
}

#[test]
fn each_environment_of_the_table_names_one_source_and_the_table_is_kept_for_the_oracles() {
    let base = std::env::temp_dir().join(format!("stsvend-chains-{}", std::process::id()));
    let mut lines = Vec::new();
    for (i, row) in ROWS.iter().enumerate() {
        let home = base.join(i.to_string());
        for (path, text) in row.files {
            let file = home.join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(&file, text).expect("write");
        }
        let mut vars: BTreeMap<String, String> = row
            .vars
            .iter()
            .map(|(k, v)| {
                let v = v
                    .strip_prefix('@')
                    .map_or_else(|| (*v).to_owned(), |f| home.join(f).display().to_string());
                ((*k).to_owned(), v)
            })
            .collect();
        vars.insert("HOME".into(), home.display().to_string());
        let chosen = stsvend_choice(row, &home, &vars);
        lines.push(json!({"provider": row.provider, "env": vars, "metadata": row.metadata, "stsvend": chosen}).to_string());
    }
    // The table covers every kind at least once.
    for kind in [
        "environment",
        "oidc",
        "cli_profile",
        "profile_file",
        "instance_metadata",
        "credentials_uri",
        "web_identity",
        "shared_credentials_file",
        "config_file",
        "container",
        "none",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("\"stsvend\":\"{kind}\""))),
            "{kind}: {lines:#?}"
        );
    }
    let path = format!("{}/credential-chains.jsonl", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(path, lines.join("\n") + "\n").expect("write table");
}
