//! Native integration tests of the core, one binary (see ARCHITECTURE.md, "Testing").
//! Each module is one topic; browser tests live in `tests/e2e/`.

mod bridge_json;
