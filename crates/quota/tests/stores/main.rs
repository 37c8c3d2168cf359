//! One test suite for every quota store backend (`suite.rs`), run against each backend's real
//! server: SQLite in a temporary directory (`sqlite.rs`), Debian's `redis-server`
//! (`redis.rs`) and moto's DynamoDB (`dynamodb.rs`), each started on 127.0.0.1 by the test and
//! stopped with it (`servers.rs`). The server-backed tests are `#[ignore]`d so that a bare
//! `cargo test` needs neither; `scripts/test` runs them.
//!
//! Every scenario connects two `Store` values to one store, as two function instances would,
//! and splits its calls between them.

mod dynamodb;
mod redis;
mod servers;
#[cfg(feature = "sqlite")]
mod sqlite;
mod suite;
