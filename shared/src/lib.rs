//! The shared core of the todo functions, in layers that import only downwards (the
//! layers are `shared/tests/layers.rs`, which checks them; lowest first):
//!
//! - `config`: settings from the environment;
//! - `domain`: validated types and every rule of a task (no I/O, no HTTP, no SQL);
//!   `telemetry`: logging, traces and metrics; `dapr`: the sidecar's HTTP API (readiness,
//!   jobs, state);
//! - `store`: the persistence traits, speaking domain types, and one module per backend;
//!   `assistant`: the built-in chat assistant's language, English sentences read into tool
//!   calls (pure: it imports only `domain`);
//! - `events`: every event built in one place, the outbox relay, publishers, the in-process
//!   bus and hub, and Dapr's subscription contract; `webhooks`: which webhook targets are
//!   allowed, signing and delivery;
//! - `http`: errors as JSON, extractors, auth, input, the router every function serves;
//! - `handlers`: one module per function binary, its handlers, routes and subscriptions;
//! - `harness`: what every binary's `main` runs, and `todo-local`'s in-process wiring.

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
