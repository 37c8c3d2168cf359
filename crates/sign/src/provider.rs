//! Which cloud stsvend talks to. A base module: the signers, the policy templates and the
//! configuration all name it, and it names none of them.

/// The cloud stsvend talks to (`PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Alibaba Cloud STS and OSS.
    Aliyun,
    /// AWS STS and S3 (or an S3-compatible store).
    Aws,
}
