//! What one caller may reach: the bucket, the caller's prefix and the IMM project, and the
//! session policies rendered from them.

use crate::Error;
use crate::caller::Caller;
use crate::vend::policy::{MAX_POLICY_BYTES, PolicyTemplate, PolicyVars};
use crate::vend::prefix::{MAX_SEGMENT_BYTES, PrefixTemplate};

/// The bucket, the prefix template and the IMM project every caller's grant is cut from
/// (`BUCKET`, `OBJECT_PREFIX`, `IMM_PROJECT`).
#[derive(Debug, Clone)]
pub struct Scope {
    /// `BUCKET`.
    pub bucket: String,
    /// `OBJECT_PREFIX`.
    pub object_prefix: PrefixTemplate,
    /// `IMM_PROJECT`.
    pub imm_project: Option<String>,
}

impl Scope {
    /// Renders `template` for `caller`, whose prefix is `prefix`.
    pub fn render_policy(
        &self,
        template: &PolicyTemplate,
        caller: &Caller,
        prefix: &str,
    ) -> Result<String, Error> {
        template.render(&PolicyVars {
            bucket: &self.bucket,
            object_prefix: prefix,
            imm_project: self.imm_project.as_deref(),
            caller,
        })
    }

    /// Renders `template` for the longest identity a caller can bring, so that a template
    /// that is broken, or too large for some caller, stops start-up instead of failing later.
    /// A policy that does not fit is an [`Error::Config`] naming `POLICY_FILE`.
    pub fn check_policy_fits(&self, template: &PolicyTemplate) -> Result<(), Error> {
        let longest = "x".repeat(MAX_SEGMENT_BYTES);
        let mut caller = Caller::with_sub(longest.clone());
        for name in template
            .claim_names()
            .iter()
            .map(String::as_str)
            .chain(self.object_prefix.claim_names())
        {
            caller.claims.insert(name.to_owned(), longest.clone());
        }
        let prefix = self.object_prefix.render(&caller)?;
        let rendered = self.render_policy(template, &caller, &prefix);
        rendered.map(drop).map_err(|e| match e {
            Error::Policy(reason) => Error::Config {
                variable: "POLICY_FILE",
                reason: format!(
                    "{reason} (checked with a {MAX_SEGMENT_BYTES}-byte caller id; STS allows {MAX_POLICY_BYTES})"
                ),
            },
            other => other,
        })
    }
}
