//! Turning message text into segments for display (being written).
