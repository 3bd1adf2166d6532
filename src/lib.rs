//! Yoom: a Zoom-style video meeting app in one binary.
//!
//! `main.rs` only loads [`config::Settings`] and runs [`startup::Application`]; everything else
//! lives here so integration tests start exactly the same server on port 0.

pub mod assets;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod db;
pub mod errors;
pub mod htmx;
pub mod jobs;
pub mod limits;
pub mod meetings;
pub mod paths;
pub mod rate_limit;
pub mod recordings;
pub mod routes;
pub mod security;
pub mod startup;
pub mod telemetry;
pub mod time;
pub mod video;
