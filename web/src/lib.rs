//! The web shell shared by the background worker, the engine host and the popup.
//!
//! It binds the browser and turns JS values into core types and back; it holds no chat logic.
//! [`chrome`] is the only module in the project that names `chrome.*`; [`file_store`] keeps files' bytes in
//! IndexedDB.

#[cfg(feature = "bench-api")]
pub mod bench_api;
pub mod chrome;
pub mod connection_test;
pub mod convert;
pub mod error;
pub mod file_store;
pub mod peer_host;
pub mod rtc;
pub mod ws;

pub use error::ShellError;

/// Milliseconds since the epoch, from the browser's clock: the time the core is handed.
pub fn now() -> multichat_core::time::Millis {
    multichat_core::time::Millis(js_sys::Date::now() as u64)
}

/// Fresh random bytes from the browser's CSPRNG (`crypto.getRandomValues`).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ShellError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|err| ShellError::new("crypto.getRandomValues", err.to_string()))?;
    Ok(bytes)
}
