//! Router tests: every endpoint through `router(state).oneshot(request)`, on a fresh SQLite
//! database per test, with a clock the test moves.

#![allow(clippy::unwrap_used)]

mod admin;
mod assertions;
mod authorize;
mod client_registration;
mod connections;
mod console;
mod console_across;
mod delegation;
mod dpop;
mod exchange;
mod federation;
mod harness;
mod hostile;
mod isolation;
mod oauth;
mod operations;
mod parsers;
mod private_tokens;
mod refresh_tokens;
mod remote_keys;
mod resource_servers;
mod resources;
mod ssf;
mod tenants;
mod tms;
