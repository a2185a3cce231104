//! multichat-core: everything multichat knows, and nothing it does.
//!
//! This crate is sans-IO. It never opens a socket, never touches `chrome.*`, never reads a clock and never
//! draws randomness of its own: time arrives as [`time::Millis`] arguments and randomness as byte arguments.
//! The web shells (`web/`, `background/`, `popup/`) perform the IO and feed the results in. That is what lets
//! `cargo test` drive two peers through a whole conversation deterministically and faster than real time.
//!
//! Remote input (from a peer, a server, storage or the user) never panics: it is an error value or an event.

pub mod account;
pub mod at_rest;
pub mod auth_gate;
pub mod bridge;
pub mod chat;
pub mod connection_test;
pub mod entropy;
pub mod export;
pub mod identity;
pub mod log_budget;
pub mod peerjs;
pub mod phrase;
pub mod qr;
pub mod search;
pub mod send_queue;
pub mod settings;
pub mod storage;
pub mod text;
pub mod time;
pub mod transfer;
pub mod worker;
