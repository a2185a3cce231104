//! multichat's build driver (`cargo xtask <command>`), the one place that knows how the pieces fit.
//!
//! - `build`: compile the worker and popup to wasm, run wasm-bindgen and wasm-opt, assemble `dist/`,
//!   print the size report.
//! - `run`: `build`, then launch Chromium with `dist/` loaded in a fresh profile when a display exists;
//!   otherwise print where `dist/` is for "Load unpacked".
//! - `test`: every test: native core tests, then (inside a fresh network namespace with only `lo`) the
//!   wasm-bindgen browser tests and the end-to-end Playwright tests against the built extension.
//! - `lint`: `cargo fmt --check`, clippy with warnings as errors, the tidy checks (`tests/tidy.rs`), and
//!   `web-ext lint` on `dist/`.
//! - `bench`: the benchmarks, which print figures (nothing is asserted on time).
//!
//! Every command first installs what a fresh machine lacks (rustup target, the pinned wasm-bindgen CLI,
//! npm packages); `.ci/run` adds the Debian packages, which need root.

mod build;
mod lint;
mod test;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let command = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    match command {
        "build" => build::build().map(drop),
        "run" => build::launch(),
        "lint" => {
            lint::code()?;
            build::build()?;
            build::lint()
        }
        "test" => test::all(rest),
        "bench" => bench(),
        // Internal: the half of `test` that runs inside the network namespace.
        "test-in-netns" => test::in_netns(rest),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask build | run | test [--native-only|--browser-only] | lint | bench");
            Ok(())
        }
        other => bail!("unknown command {other:?}; try `cargo xtask help`"),
    }
}

/// Runs every benchmark; each prints its own figures. The browser benchmarks run inside a fresh network
/// namespace with only `lo`, like the browser tests.
fn bench() -> Result<()> {
    let seed = root().join("target/bench-seed-100k.json");
    let skip_seed = std::env::var_os("MULTICHAT_BENCH_REUSE_SEED").is_some() && seed.exists();
    if !skip_seed {
        tools::run(
            std::process::Command::new("cargo")
                .current_dir(root())
                .args(["bench", "--bench", "history", "--", "--seed"])
                .arg(&seed),
        )?;
    }
    build::build()?;
    tools::chromium()?;
    let script = "ip link set lo up && exec node tests/bench/popup_open.mjs \"$0\"";
    tools::run(
        std::process::Command::new("unshare")
            .current_dir(root())
            .args(["--net", "--pid", "--fork", "--mount-proc", "--", "sh", "-c", script])
            .arg(&seed)
            .env("MULTICHAT_DIST", build::dist())
            .env("CHROMIUM", tools::chromium()?),
    )?;
    // Our PeerJS client next to the stock one, through a local PeerJS server: first hosted in a plain page
    // like the stock client (like for like), then end to end through the extension's engine.
    let page = root().join("target/bench-page");
    tools::run(std::process::Command::new("cargo").current_dir(root()).args([
        "build",
        "-p",
        "multichat-web",
        "--features",
        "bench-api",
        "--lib",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    tools::run(
        std::process::Command::new("wasm-bindgen")
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(&page)
            .arg(root().join("target/wasm32-unknown-unknown/release/multichat_web.wasm")),
    )?;
    for script in ["tests/bench/peerjs_page.mjs", "tests/bench/peerjs.mjs"] {
        tools::run(
            std::process::Command::new("unshare")
                .current_dir(root())
                .args([
                    "--net",
                    "--pid",
                    "--fork",
                    "--mount-proc",
                    "--",
                    "sh",
                    "-c",
                    "ip link set lo up && exec node \"$0\"",
                ])
                .arg(script)
                .env("MULTICHAT_DIST", build::dist())
                .env("MULTICHAT_BENCH_PAGE", &page)
                .env("CHROMIUM", tools::chromium()?),
        )?;
    }
    Ok(())
}

/// The workspace root (the parent of this crate's directory).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}
