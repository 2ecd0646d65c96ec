//! The shared core of the todo functions, in layers that import only downwards:
//!
//! - `domain`: validated types and every rule of a task (no I/O, no HTTP, no SQL);
//! - `assistant`: the built-in chat assistant's language, English sentences read into tool
//!   calls (pure: it imports only `domain`);
//! - `store`: the persistence traits, speaking domain types, and one module per backend;
//! - `events`: every event built in one place, the outbox relay, publishers, the in-process
//!   bus and hub, and Dapr's subscription contract;
//! - `webhooks`: which webhook targets are allowed, signing and delivery;
//! - `dapr`: the sidecar's HTTP API (readiness, jobs);
//! - `http`: errors as JSON, extractors, auth, input, the router every function serves;
//! - `handlers`: one module per function binary, its handlers, routes and subscriptions;
//! - `harness`: what every binary's `main` runs, and `todo-local`'s in-process wiring.
//!
//! `config` (settings from the environment) and `telemetry` (logging) serve every layer.

pub mod assistant;
pub mod config;
pub mod dapr;
pub mod domain;
pub mod events;
pub mod handlers;
pub mod harness;
pub mod http;
pub mod store;
pub mod telemetry;
pub mod webhooks;

pub use http::ApiError;
