//! A budget for console lines that a remote peer can trigger (dropped frames, unreadable messages), so a
//! flood cannot flood the console too: at most a few lines per window, then one line saying how many were
//! left out. Pure: the shell hands in the time and prints what it is given.

use crate::time::Millis;

/// The longest line handed out; a peer chooses part of the text (an unknown frame type, say).
pub const MAX_LINE_CHARS: usize = 300;

#[derive(Clone, Debug)]
pub struct LogBudget {
    per_window: u32,
    window_ms: u64,
    window_start: Millis,
    used: u32,
    left_out: u64,
}

impl LogBudget {
    /// At most `per_window` lines every `window_ms`.
    pub fn new(per_window: u32, window_ms: u64) -> LogBudget {
        LogBudget { per_window, window_ms, window_start: Millis(0), used: 0, left_out: 0 }
    }

    /// The lines to print now for `line`: none when over budget; after a window with lines left out, a count
    /// of them first. Each line is cut to [`MAX_LINE_CHARS`].
    pub fn admit(&mut self, now: Millis, line: &str) -> Vec<String> {
        let mut out = Vec::new();
        if now.0 >= self.window_start.0.saturating_add(self.window_ms) || now.0 < self.window_start.0 {
            if self.left_out > 0 {
                out.push(format!("multichat: {} more such lines were left out", self.left_out));
            }
            *self = LogBudget { window_start: now, ..LogBudget::new(self.per_window, self.window_ms) };
        }
        if self.used < self.per_window {
            self.used += 1;
            out.push(cut(line));
        } else {
            self.left_out += 1;
        }
        out
    }
}

fn cut(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_budget_and_counted() {
        let mut budget = LogBudget::new(3, 1_000);
        let printed: usize = (0..10_000).map(|n| budget.admit(Millis(5_000 + n / 100), "dropped").len()).sum();
        assert_eq!(printed, 3);
        assert_eq!(
            budget.admit(Millis(7_000), "dropped"),
            vec!["multichat: 9997 more such lines were left out".to_owned(), "dropped".to_owned()]
        );
    }

    #[test]
    fn long_lines_are_cut_on_a_char_boundary() {
        let mut budget = LogBudget::new(1, 1_000);
        let line = &budget.admit(Millis(0), &"é".repeat(10_000))[0];
        assert_eq!(line.chars().count(), MAX_LINE_CHARS + 1);
    }
}
