//! x
pub mod aliyun;
pub mod config;
pub mod credential;
pub mod encode;
pub mod error;
pub mod host;
pub mod identity;
pub mod policy;
pub mod prefix;
pub mod request;
pub mod response;
pub mod time;
pub mod transport;
