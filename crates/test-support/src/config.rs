//! The smallest configuration a function starts with (Alibaba Cloud, a static key, a role, a
//! bucket), for the tests of each function's own settings.

use std::collections::HashMap;

use stsvend::Error;
use stsvend_host::Config;

/// The variables of the smallest valid configuration.
pub fn minimal() -> HashMap<&'static str, String> {
    HashMap::from([
        (
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "LTAI-test-config-key".to_owned(),
        ),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "test-secret".to_owned()),
        (
            "ROLE_ARN",
            "acs:ram::1234567890123:role/uploader".to_owned(),
        ),
        ("BUCKET", "examplebucket".to_owned()),
        ("BUCKET_REGION", "cn-hangzhou".to_owned()),
    ])
}

/// The configuration `vars` give, as a function reads it at cold start.
pub fn load(vars: &HashMap<&'static str, String>) -> Result<Config, Error> {
    Config::load(&|k| vars.get(k).cloned())
}
