//! Placeholder: the redis backend.

use std::time::Duration;

use crate::{
    Account, Limits, Rate, RateDecision, RedisUrl, Reservation, Reserved, Settled, StoreError,
    Stored, Usage,
};

/// The redis backend (not built yet).
#[derive(Debug)]
pub struct RedisStore;

fn not_built<T>() -> Result<T, StoreError> {
    Err(StoreError::Unavailable(
        "the redis backend is not built yet".into(),
    ))
}

#[allow(clippy::unused_async)]
impl RedisStore {
    pub(crate) async fn connect(_: &RedisUrl, _: Duration) -> Result<Self, StoreError> {
        not_built()
    }
    pub(crate) async fn reserve(
        &self,
        _: Account<'_>,
        _: Limits,
        _: Reservation<'_>,
        _: u64,
    ) -> Result<Reserved, StoreError> {
        not_built()
    }
    pub(crate) async fn settle(
        &self,
        _: Account<'_>,
        _: Stored<'_>,
        _: u64,
    ) -> Result<Settled, StoreError> {
        not_built()
    }
    pub(crate) async fn remove(
        &self,
        _: Account<'_>,
        _: &str,
        _: u64,
    ) -> Result<Usage, StoreError> {
        not_built()
    }
    pub(crate) async fn usage(&self, _: Account<'_>, _: u64) -> Result<Usage, StoreError> {
        not_built()
    }
    pub(crate) async fn replace(
        &self,
        _: Account<'_>,
        _: &[Stored<'_>],
        _: u64,
    ) -> Result<Usage, StoreError> {
        not_built()
    }
    pub(crate) async fn hit_rate(
        &self,
        _: &str,
        _: Rate,
        _: u64,
    ) -> Result<RateDecision, StoreError> {
        not_built()
    }
}
