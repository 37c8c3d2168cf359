//! Placeholder: the dynamodb backend.

/// The dynamodb backend (not built yet).
#[derive(Debug)]
pub struct DynamoStore;
