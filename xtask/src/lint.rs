//! `cargo xtask lint`, the code half: formatting, clippy with warnings as errors (natively for the core and
//! xtask, for wasm32 for the web crates), and the tidy checks of `tests/tidy.rs` (the invariants
//! ARCHITECTURE.md states). `cargo xtask test` runs it first, so CI fails on any of them.

use std::process::Command;

use anyhow::{Context, Result};

use crate::root;
use crate::tools::run;

/// The crates built for the browser (their folders); each is linted for `wasm32-unknown-unknown`.
const WASM_CRATES: &[&str] = &["web", "background", "engine", "popup"];

pub(crate) fn code() -> Result<()> {
    run(Command::new("cargo").current_dir(root()).args(["fmt", "--all", "--check"]))
        .context("the code is not formatted: run `cargo fmt --all`")?;
    run(Command::new("cargo").current_dir(root()).args([
        "clippy",
        "--quiet",
        "-p",
        "multichat-core",
        "-p",
        "xtask",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
    .context("clippy found warnings in the native crates")?;
    let mut wasm = Command::new("cargo");
    wasm.current_dir(root()).args(["clippy", "--quiet", "--target", "wasm32-unknown-unknown", "--all-targets"]);
    for dir in WASM_CRATES {
        if let Some(name) = package_name(dir)? {
            wasm.args(["-p", &name]);
        }
    }
    run(wasm.args(["--", "-D", "warnings"])).context("clippy found warnings in the wasm crates")?;
    run(Command::new("cargo").current_dir(root()).args(["test", "--quiet", "-p", "multichat-core", "--test", "tidy"]))
        .context("a tidy check failed (see tests/tidy.rs)")?;
    println!("lint: formatted, clippy clean, tidy checks pass");
    Ok(())
}

/// The package name in `<dir>/Cargo.toml`, or `None` when the folder is not a crate (yet).
fn package_name(dir: &str) -> Result<Option<String>> {
    let manifest = root().join(dir).join("Cargo.toml");
    if !manifest.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    Ok(text.lines().find_map(|line| line.trim().strip_prefix("name = ").map(|it| it.trim_matches('"').to_owned())))
}
