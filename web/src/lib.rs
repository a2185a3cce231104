//! The web shell shared by the background worker, the engine host and the popup.
//!
//! It binds the browser and turns JS values into core types and back; it holds no chat logic.
//! [`chrome`] is the only module in the project that names `chrome.*`.

pub mod chrome;
pub mod convert;
pub mod error;
pub mod rtc;
pub mod ws;

pub use error::ShellError;
