//! The shared core of the todo functions: domain types, the store boundary, the HTTP API
//! (auth, extractors, one module per function), webhook delivery and the harness every
//! binary runs on.

pub mod config;
pub mod dapr;
pub mod domain;
pub mod error;
pub mod events;
pub mod functions;
pub mod harness;
pub mod http;
pub mod store;
pub mod telemetry;
pub mod webhooks;

pub use error::ApiError;
