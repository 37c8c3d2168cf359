//! Placeholder: the sqlite backend.

/// The sqlite backend (not built yet).
#[derive(Debug)]
pub struct SqliteStore;
