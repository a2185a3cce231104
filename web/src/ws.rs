//! WebSocket wrapper (being written).
