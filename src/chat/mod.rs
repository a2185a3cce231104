//! The chat protocol and room model, sans-IO (being written).
