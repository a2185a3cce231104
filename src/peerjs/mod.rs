//! The PeerJS client protocol, sans-IO (being written).
