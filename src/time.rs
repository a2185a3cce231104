//! Time as the core sees it: plain milliseconds handed in by the shell.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, as reported by the shell's clock (`Date.now()` in a browser).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    pub fn saturating_add(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    pub fn saturating_sub(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}
