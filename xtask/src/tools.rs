//! Finding and installing the tools the build and the tests need.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::root;

/// Runs a command to completion, failing with its command line if it fails.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The wasm-bindgen version Cargo.lock resolved; the CLI must be exactly this one.
pub(crate) fn locked_wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(version) = lines.next().and_then(|it| it.strip_prefix("version = \"")) {
                return Ok(version.trim_end_matches('"').to_owned());
            }
        }
    }
    bail!("Cargo.lock has no wasm-bindgen package")
}

pub(crate) fn ensure_wasm_target() -> Result<()> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !installed.lines().any(|it| it.trim() == "wasm32-unknown-unknown") {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    Ok(())
}

/// Installs wasm-bindgen-cli (which also brings wasm-bindgen-test-runner) at the locked version.
pub(crate) fn ensure_wasm_bindgen() -> Result<()> {
    let want = locked_wasm_bindgen_version()?;
    let have = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have.split_whitespace().nth(1) != Some(want.as_str()) {
        eprintln!("xtask: installing wasm-bindgen-cli {want} (found {:?}); this takes a few minutes", have.trim());
        // No --locked: a dependency version in the CLI's own lock file is not on the registry here.
        run(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--force", "--version", &want]))?;
    }
    Ok(())
}

/// Installs the npm packages from package-lock.json if they are missing or older than the lock file.
pub(crate) fn ensure_npm_packages() -> Result<()> {
    let root = root();
    let marker = root.join("node_modules/.package-lock.json");
    let lock = root.join("package-lock.json");
    let fresh = match (modified(&marker), modified(&lock)) {
        (Some(installed), Some(locked)) => installed >= locked,
        _ => false,
    };
    if !fresh {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&root))?;
    }
    Ok(())
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|it| it.modified()).ok()
}

pub(crate) fn node_bin(name: &str) -> PathBuf {
    root().join("node_modules/.bin").join(name)
}

/// Debian's Chromium, ChromeDriver and Firefox ESR, which the browser tests drive, `unzip` (the package
/// test unpacks the store zip) and coturn (`turnserver`, the TURN server turn.test.mjs starts). Installed with apt when
/// missing and this process may (root); otherwise the error says what to install. Returns Chromium's path.
pub(crate) fn chromium() -> Result<PathBuf> {
    let chromium = Path::new("/usr/bin/chromium");
    let needed = [
        "/usr/bin/chromium",
        "/usr/bin/chromedriver",
        "/usr/bin/firefox-esr",
        "/usr/bin/unzip",
        "/usr/bin/zip",
        "/usr/bin/turnserver",
    ];
    if !needed.iter().all(|it| Path::new(it).exists()) {
        let is_root = output(Command::new("id").arg("-u")).is_some_and(|it| it.trim() == "0");
        if !is_root {
            bail!(
                "the test browsers are missing; install them with `sudo apt-get install chromium chromium-driver firefox-esr unzip zip coturn`"
            );
        }
        eprintln!("xtask: installing Debian's chromium, chromium-driver, firefox-esr, unzip and coturn");
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "chromium", "chromium-driver", "firefox-esr", "unzip", "zip", "coturn"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    Ok(chromium.to_path_buf())
}
