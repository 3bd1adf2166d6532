//! Integration tests: the real server on port 0 with a fresh SQLite file, a cookie-keeping
//! HTTP client, and headless Chromium for the browser flows.

mod auth;
mod browser;
mod clerk;
mod helpers;
mod host_controls;
mod join_limits;
mod meetings;
mod personal_room;
mod recording_access;
mod recording_limits;
mod recordings;
mod security;
mod shell;
mod sign_in_limits;
mod signal;
mod signal_abuse;
mod stream;
mod stream_mock;
mod stream_recordings;
mod stream_webhooks;
