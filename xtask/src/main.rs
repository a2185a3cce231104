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
//! - `package`: `build`, then the Chrome Web Store zip, the Firefox add-on zip and the source archive in
//!   `target/package/`.
//! - `bench`: the benchmarks, which print figures (nothing is asserted on time).
//!
//! Every command first installs what a fresh machine lacks (rustup target, the pinned wasm-bindgen CLI,
//! npm packages); `.ci/run` adds the Debian packages, which need root.

mod build;
mod lint;
mod package;
mod test;
mod tools;

use std::path::{Path, PathBuf};
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
        "package" => package::package(),
        "test" => test::all(rest),
        "bench" => bench(),
        // Internal: the half of `test` that runs inside the network namespace.
        "test-in-netns" => test::in_netns(rest),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask build | run | test [--native-only|--browser-only] | lint | package | bench");
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
    // Search over 100,000 messages in the core: the index built cold, then queries against it.
    tools::run(std::process::Command::new("cargo").current_dir(root()).args(["bench", "--bench", "search"]))?;
    let dist = build::build()?;
    tools::chromium()?;
    // Service-worker start, per layout: today's, the same wasm embedded in worker.js (as it was loaded
    // before), and the previous build (engine inside the worker's wasm) if MULTICHAT_BENCH_OLD_DIST names one.
    let layouts = root().join("target/bench-layouts");
    let mut worker_start =
        vec![format!("worker.js fetches the wasm={}", bench_layout(&dist, &layouts.join("new"))?.display())];
    let embedded = bench_layout(&dist, &layouts.join("embedded"))?;
    build::embed_worker_wasm(&embedded)?;
    worker_start.push(format!("wasm embedded in worker.js (base64)={}", embedded.display()));
    if let Some(old) = std::env::var_os("MULTICHAT_BENCH_OLD_DIST") {
        let old = bench_layout(&PathBuf::from(old), &layouts.join("old"))?;
        worker_start.push(format!("previous build (engine in the worker)={}", old.display()));
    }
    tools::run(
        std::process::Command::new("unshare")
            .current_dir(root())
            .args(["--net", "--pid", "--fork", "--mount-proc", "--", "sh", "-c"])
            .arg("ip link set lo up && exec node tests/bench/worker_start.mjs \"$@\"")
            .arg("sh")
            .args(&worker_start)
            .env("MULTICHAT_DIST", &dist)
            .env("CHROMIUM", tools::chromium()?),
    )?;
    let script = "ip link set lo up && exec node tests/bench/popup_open.mjs \"$0\"";
    tools::run(
        std::process::Command::new("unshare")
            .current_dir(root())
            .args(["--net", "--pid", "--fork", "--mount-proc", "--", "sh", "-c", script])
            .arg(&seed)
            .env("MULTICHAT_DIST", build::dist())
            .env("CHROMIUM", tools::chromium()?),
    )?;
    // The same search through the extension: the popup's field to the results painted, cold and warm.
    tools::run(
        std::process::Command::new("unshare")
            .current_dir(root())
            .args(["--net", "--pid", "--fork", "--mount-proc", "--", "sh", "-c"])
            .arg("ip link set lo up && exec node tests/bench/search.mjs")
            .env("MULTICHAT_DIST", build::dist())
            .env("CHROMIUM", tools::chromium()?),
    )?;
    // A 10,000-message flood: the worker's store rate, and a popup request's latency meanwhile.
    tools::run(
        std::process::Command::new("unshare")
            .current_dir(root())
            .args(["--net", "--pid", "--fork", "--mount-proc", "--", "sh", "-c"])
            .arg("ip link set lo up && exec node tests/bench/flood.mjs")
            .env("MULTICHAT_DIST", build::dist())
            .env("CHROMIUM", tools::chromium()?),
    )?;
    // Where received files are kept (issue 15): chrome.storage.local against IndexedDB, in a service worker.
    tools::run(
        std::process::Command::new("unshare")
            .current_dir(root())
            .args(["--net", "--pid", "--fork", "--mount-proc", "--", "sh", "-c"])
            .arg("ip link set lo up && exec node tests/bench/file_storage.mjs")
            .env("MULTICHAT_DIST", build::dist())
            .env("CHROMIUM", tools::chromium()?),
    )?;
    // File transfer throughput through the extension next to a bare data channel between two pages.
    tools::run(
        std::process::Command::new("unshare")
            .current_dir(root())
            .args(["--net", "--pid", "--fork", "--mount-proc", "--", "sh", "-c"])
            .arg("ip link set lo up && exec node tests/bench/file_transfer.mjs")
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
    for script in ["tests/bench/peerjs_page.mjs", "tests/bench/peerjs.mjs", "tests/bench/enter_to_paint.mjs"] {
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

/// A copy of the extension in `dist` at `to`, with an empty extension page (`bench/probe.html`) for the
/// worker-start benchmark to work from. Returns `to`.
fn bench_layout(dist: &Path, to: &Path) -> Result<PathBuf> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    std::fs::create_dir_all(to.parent().expect("a layout lives in a directory"))?;
    tools::run(std::process::Command::new("cp").arg("-a").arg(dist).arg(to))?;
    std::fs::create_dir_all(to.join("bench"))?;
    std::fs::write(to.join("bench/probe.html"), "<!doctype html>\n<title>multichat benchmark probe</title>\n")?;
    Ok(to.to_path_buf())
}

/// The workspace root (the parent of this crate's directory).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}
