//! One `AssumeRole` exchange: a fresh nonce, the signed request, the deadline, the answer.
//!
//! The request is built and the answer parsed by the sans-IO [`crate::aliyun::sts`]; this
//! module adds what needs the outside world: randomness and the sender.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ring::rand::{SecureRandom, SystemRandom};

use crate::aliyun::sts::{self, AssumeRoleParams};
use crate::aws::sts as aws_sts;
use crate::config::{Config, Provider};
use crate::credential::Credential;
use crate::encode::hex_lower;
use crate::error::Error;
use crate::signing_key::SigningKeyCache;
use crate::transport::HttpSender;

/// Calls STS `AssumeRole` with the function's own credentials, on the configured provider.
pub struct StsClient {
    provider: Provider,
    endpoint: String,
    region: String,
    keys: SigningKeyCache,
    credential: Credential,
    timeout: Duration,
    sender: Arc<dyn HttpSender>,
    random: SystemRandom,
}

impl std::fmt::Debug for StsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsClient")
            .field("endpoint", &self.endpoint)
            .field("credential", &self.credential)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl StsClient {
    /// A client for `config`'s STS endpoint, credentials and deadline.
    pub fn new(config: &Config, sender: Arc<dyn HttpSender>) -> Self {
        Self {
            provider: config.provider,
            endpoint: config.sts_endpoint.clone(),
            region: config.sts_region.clone(),
            keys: SigningKeyCache::default(),
            credential: config.credential.clone(),
            timeout: config.sts_timeout,
            sender,
            random: SystemRandom::new(),
        }
    }

    /// Assumes the role, signed at `now`; the whole exchange ends within the deadline.
    pub async fn assume_role(
        &self,
        params: &AssumeRoleParams<'_>,
        now: SystemTime,
    ) -> Result<Credential, Error> {
        let request = match self.provider {
            Provider::Aliyun => {
                let mut nonce = [0u8; 16];
                self.random.fill(&mut nonce).map_err(|_| {
                    Error::StsUnreachable("no randomness for SignatureNonce".into())
                })?;
                sts::assume_role_request(
                    &self.endpoint,
                    &self.credential,
                    params,
                    now,
                    &hex_lower(&nonce),
                )
            }
            Provider::Aws => aws_sts::assume_role_request(
                &self.endpoint,
                &self.region,
                &self.credential,
                params,
                now,
                &self.keys,
            ),
        };
        let reply = tokio::time::timeout(self.timeout, self.sender.send(request))
            .await
            .map_err(|_| Error::StsTimeout(self.timeout))??;
        match self.provider {
            Provider::Aliyun => sts::parse_assume_role_response(reply.status, &reply.body),
            Provider::Aws => aws_sts::parse_assume_role_response(reply.status, &reply.body),
        }
    }
}
