//! `cargo xtask build`, `run` and `lint`: from Rust sources to the unpacked extension in `dist/`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::root;
use crate::tools::{self, run};

/// A wasm crate that becomes one directory of `dist/`.
struct WasmCrate {
    package: &'static str,
    /// The artifact name: the package name with `_` for `-`.
    artifact: &'static str,
    dist_dir: &'static str,
    /// Where its static files (HTML, CSS, JS entry shims) live, if it has its own.
    static_dir: Option<&'static str>,
    /// The Cargo profile it is built with (`Cargo.toml`) and the wasm-opt level that matches it.
    build: Build,
}

/// How a wasm crate is optimized: for size (the popup, downloaded and compiled on every open) or for speed
/// at a modest size (the worker and the engine, which store and relay every message; see `Cargo.toml`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Build {
    Small,
    Fast,
}

impl Build {
    const ALL: [Build; 2] = [Build::Small, Build::Fast];

    fn profile(self) -> &'static str {
        match self {
            Build::Small => "release",
            Build::Fast => "release-fast",
        }
    }

    fn wasm_opt_level(self) -> &'static str {
        match self {
            Build::Small => "-Oz",
            Build::Fast => "-Os",
        }
    }
}

/// The service worker's wasm (loaded by `worker.js`), the engine's (loaded by the offscreen document or
/// Firefox's background page, never by the service worker) and the popup's.
const CRATES: [WasmCrate; 3] = [
    WasmCrate {
        package: "multichat-background",
        artifact: "multichat_background",
        dist_dir: "background",
        static_dir: Some("background/static"),
        build: Build::Fast,
    },
    WasmCrate {
        package: "multichat-engine",
        artifact: "multichat_engine",
        dist_dir: "background",
        static_dir: None,
        build: Build::Fast,
    },
    WasmCrate {
        package: "multichat-popup",
        artifact: "multichat_popup",
        dist_dir: "popup",
        static_dir: Some("popup/static"),
        build: Build::Small,
    },
];

/// The wasm features rustc enables by default for wasm32-unknown-unknown; wasm-opt must accept them.
const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

pub(crate) fn dist() -> PathBuf {
    root().join("dist")
}

/// Builds `dist/` and returns its path.
pub(crate) fn build() -> Result<PathBuf> {
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen()?;
    tools::ensure_npm_packages()?;
    let root = root();
    // One cargo run per profile: a dependency shared by two crates is compiled once for each.
    for build in Build::ALL {
        let mut cargo = Command::new("cargo");
        cargo.current_dir(&root).args(["build", "--profile", build.profile(), "--target", "wasm32-unknown-unknown"]);
        for krate in CRATES.iter().filter(|it| it.build == build) {
            cargo.args(["-p", krate.package]);
        }
        run(&mut cargo)?;
    }

    let dist = dist();
    if dist.exists() {
        fs::remove_dir_all(&dist).context("clearing dist/")?;
    }
    fs::create_dir_all(&dist)?;
    fs::copy(root.join("manifest.json"), dist.join("manifest.json")).context("copying manifest.json")?;
    // The message catalogues: the manifest's name and description, and every word the popup shows.
    copy_dir(&root.join("_locales"), &dist.join("_locales"))?;
    let mut report = Vec::new();
    for krate in &CRATES {
        let out_dir = dist.join(krate.dist_dir);
        let wasm_in = root
            .join("target/wasm32-unknown-unknown")
            .join(krate.build.profile())
            .join(format!("{}.wasm", krate.artifact));
        run(Command::new("wasm-bindgen")
            .arg("--target")
            .arg("web")
            .arg("--no-typescript")
            .arg("--out-dir")
            .arg(&out_dir)
            .arg(&wasm_in))?;
        let wasm_out = out_dir.join(format!("{}_bg.wasm", krate.artifact));
        run(Command::new(tools::node_bin("wasm-opt"))
            .arg(krate.build.wasm_opt_level())
            .args(WASM_FEATURES)
            .arg(&wasm_out)
            .arg("-o")
            .arg(&wasm_out))?;
        if let Some(static_dir) = krate.static_dir {
            copy_dir(&root.join(static_dir), &out_dir)?;
        }
        report.push((krate.package, krate.build.wasm_opt_level(), fs::read(&wasm_out)?));
    }
    print_size_report(&report, &dist.join("background/worker.js"))?;
    println!("xtask: built {}", dist.display());
    Ok(dist)
}

/// The worker as it was loaded before `background/static/worker.js`: its wasm embedded in the entry as base64
/// and instantiated synchronously. Only `cargo xtask bench` builds this, into a copy of `dist/`, to compare
/// the two service-worker starts.
pub(crate) fn embed_worker_wasm(dist: &Path) -> Result<()> {
    let wasm_path = dist.join("background/multichat_background_bg.wasm");
    let wasm = fs::read(&wasm_path)?;
    let entry = format!(
        "// Generated by `cargo xtask bench`: the worker's wasm, embedded so it starts synchronously.\n\
         import {{ initSync, service_worker_main }} from './multichat_background.js';\n\
         const bytes = Uint8Array.from(atob('{}'), (c) => c.charCodeAt(0));\n\
         initSync({{ module: bytes }});\n\
         service_worker_main();\n",
        base64(&wasm)
    );
    fs::write(dist.join("background/worker.js"), entry).context("writing worker.js")
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = u32::from(chunk[0]) << 16
            | u32::from(chunk.get(1).copied().unwrap_or(0)) << 8
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target).with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Each wasm's size, then the service worker's script as the browser evaluates it on every worker start:
/// `worker.js` and its wasm-bindgen glue (the worker's wasm is fetched and compiled beside them).
fn print_size_report(wasm_files: &[(&str, &str, Vec<u8>)], worker_script: &Path) -> Result<()> {
    println!("size report (after wasm-opt):");
    for (name, level, raw) in wasm_files {
        println!("  {name:<22} wasm {}  ({level})", sizes(raw)?);
    }
    let entry = fs::read(worker_script)?;
    let glue = fs::read(worker_script.with_file_name("multichat_background.js"))?;
    println!(
        "  service worker script  worker.js {:.1} KB + glue {:.1} KB = {:.1} KB (1 KB = 1000 bytes; its wasm is above)",
        entry.len() as f64 / 1000.0,
        glue.len() as f64 / 1000.0,
        (entry.len() + glue.len()) as f64 / 1000.0
    );
    Ok(())
}

fn sizes(raw: &[u8]) -> Result<String> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(raw)?;
    let gzip = gz.finish()?.len();
    Ok(format!("{:>8.1} KiB raw  {:>7.1} KiB gzip", raw.len() as f64 / 1024.0, gzip as f64 / 1024.0))
}

/// `web-ext lint` on `dist/`: fails on any error (warnings about Chrome-only keys are expected).
pub(crate) fn lint() -> Result<()> {
    let out = Command::new(tools::node_bin("web-ext"))
        .args(["lint", "--self-hosted", "--output", "json", "--source-dir"])
        .arg(dist())
        .output()
        .context("running web-ext lint")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("reading web-ext lint's report:\n{text}"))?;
    match report["summary"]["errors"].as_u64() {
        Some(0) => {
            println!("web-ext lint: 0 errors");
            Ok(())
        }
        Some(n) => bail!("web-ext lint found {n} errors:\n{text}"),
        None => bail!("web-ext lint's report has no error count:\n{text}"),
    }
}

/// Builds, then opens Chromium with the extension in a fresh profile when there is a display.
pub(crate) fn launch() -> Result<()> {
    let dist = build()?;
    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !has_display {
        println!("No display here. Load the extension by hand:");
        println!("  Chromium: chrome://extensions → Developer mode → Load unpacked → {}", dist.display());
        println!(
            "  Firefox:  about:debugging → This Firefox → Load Temporary Add-on → {}",
            dist.join("manifest.json").display()
        );
        return Ok(());
    }
    let profile = std::env::temp_dir().join(format!("multichat-profile-{}", std::process::id()));
    let chromium = tools::chromium()?;
    println!("Launching {} with a fresh profile in {}", chromium.display(), profile.display());
    println!("Click the puzzle-piece icon in the toolbar, pin multichat, then click its icon to chat.");
    run(Command::new(chromium)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--disable-extensions-except={}", dist.display()))
        .arg(format!("--load-extension={}", dist.display()))
        .args(["--no-first-run", "chrome://extensions"]))
}
