//! Placeholder: the redis backend.

/// The redis backend (not built yet).
#[derive(Debug)]
pub struct RedisStore;
