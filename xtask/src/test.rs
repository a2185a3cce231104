//! `cargo xtask test`: every test the project has, in one command.
//!
//! 1. The code lint (formatting, clippy, tidy checks), then native `cargo test` of the core (and of xtask).
//! 2. `dist/` is built, and the wasm-bindgen test binaries are compiled, while the network is still there.
//! 3. This program re-runs itself as `test-in-netns` inside a fresh network namespace that has only `lo`,
//!    where the wasm-bindgen tests run in headless Chromium and the Playwright end-to-end tests drive the
//!    built extension against a PeerJS server on 127.0.0.1.
//!
//! Test counts are read off each runner's own summary lines and added up in a final
//! `xtask test: N passed, N failed` line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::tools::{self, run};
use crate::{build, root};

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    /// Runs `cmd`, echoing its stdout and adding up the summary lines of cargo test, wasm-bindgen-test
    /// and node's test runner (and of a nested xtask). Returns whether the command succeeded.
    fn run(&mut self, cmd: &mut Command) -> Result<bool> {
        let mut child = cmd.stdout(Stdio::piped()).spawn().with_context(|| format!("could not start {cmd:?}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            self.count(&line);
        }
        Ok(child.wait()?.success())
    }

    fn count(&mut self, line: &str) {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("test result: ") {
            // "ok. 12 passed; 0 failed; 0 ignored; ..."
            for part in rest.split(';') {
                let words: Vec<&str> = part.split_whitespace().collect();
                match words.as_slice() {
                    [.., n, "passed"] => self.passed += n.parse::<u64>().unwrap_or(0),
                    [n, "failed"] => self.failed += n.parse::<u64>().unwrap_or(0),
                    _ => {}
                }
            }
        } else if let Some(n) = line.strip_prefix("ℹ pass ").or_else(|| line.strip_prefix("# pass ")) {
            self.passed += n.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(n) = line.strip_prefix("ℹ fail ").or_else(|| line.strip_prefix("# fail ")) {
            self.failed += n.trim().parse::<u64>().unwrap_or(0);
        }
    }
}

pub(crate) fn all(args: &[String]) -> Result<()> {
    let browser_only = args.iter().any(|it| it == "--browser-only");
    let native_only = args.iter().any(|it| it == "--native-only");
    let mut tally = Tally::default();
    let mut ok = true;
    if !browser_only {
        crate::lint::code()?;
        ok &= tally.run(Command::new("cargo").current_dir(root()).args([
            "test",
            "-p",
            "multichat-core",
            "-p",
            "xtask",
        ]))?;
    }
    if !native_only {
        let dist = build::build()?;
        build::lint()?;
        crate::package::write(&dist)?;
        tools::chromium()?;
        run(Command::new("cargo").current_dir(root()).args(wasm_test_args()).arg("--no-run"))?;
        let me = std::env::current_exe().context("locating xtask")?;
        let mut unshare = Command::new("unshare");
        if !is_root() {
            unshare.arg("--map-root-user");
        }
        // --pid --fork --mount-proc: every browser and server started inside dies with the namespace.
        unshare
            .args([
                "--net",
                "--pid",
                "--fork",
                "--mount-proc",
                "--",
                "sh",
                "-c",
                "ip link set lo up && exec \"$0\" test-in-netns \"$@\"",
            ])
            .arg(me)
            .args(args);
        ok &= tally.run(&mut unshare)?;
    }
    println!("xtask test: {} passed, {} failed", tally.passed, tally.failed);
    if !ok || tally.failed > 0 {
        bail!("some tests failed");
    }
    if tally.passed == 0 {
        bail!("no test ran");
    }
    Ok(())
}

fn wasm_test_args() -> [&'static str; 5] {
    ["test", "--target", "wasm32-unknown-unknown", "-p", "multichat-web"]
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|it| it.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// The part of `test` that runs inside the network namespace. Refuses to run with any interface but `lo`.
pub(crate) fn in_netns(args: &[String]) -> Result<()> {
    // /proc/net/dev describes the network namespace of the reader (/sys/class/net would show the host's).
    let interfaces: Vec<String> = std::fs::read_to_string("/proc/net/dev")
        .context("listing network interfaces")?
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next().map(|name| name.trim().to_owned()))
        .collect();
    if interfaces != ["lo"] {
        bail!(
            "browser tests must run in a network namespace with only `lo`, but these interfaces are visible: {interfaces:?}"
        );
    }
    let e2e_filter = args.iter().position(|it| it == "--e2e").and_then(|i| args.get(i + 1));
    let mut ok = true;
    let mut tally = Tally::default();
    if e2e_filter.is_none() {
        // The wasm tests of the PeerJS client need the official server on 127.0.0.1:9200.
        let mut server = Command::new("node")
            .current_dir(root())
            .args(["tests/e2e/peer-server.mjs", "9200", "/myapp", "60000"])
            .stdout(Stdio::null())
            .spawn()
            .context("starting the PeerJS server for the wasm tests")?;
        std::thread::sleep(std::time::Duration::from_millis(800));
        let wasm = tally.run(
            Command::new("cargo")
                .current_dir(root())
                .args(wasm_test_args())
                .arg("--offline")
                .env("CHROMEDRIVER", "/usr/bin/chromedriver"),
        );
        let _ = server.kill();
        ok &= wasm?;
    }
    let mut node = Command::new("node");
    // --test-force-exit: the official PeerJS server keeps timers running after its HTTP server is closed
    // (they cannot be reached to stop them), which would keep a test file's process alive for ever.
    node.current_dir(root())
        .args(["--test", "--test-force-exit", "--test-concurrency=1", "--test-reporter=spec"])
        .env("MULTICHAT_DIST", build::dist())
        .env("MULTICHAT_PACKAGES", crate::package::out_dir())
        .env("CHROMIUM", tools::chromium()?);
    match e2e_filter {
        Some(file) => node.arg(file),
        None => node.arg("tests/e2e/"),
    };
    ok &= tally.run(&mut node)?;
    if !ok {
        bail!("browser tests failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Tally;

    #[test]
    fn counts_every_runners_summary_lines() {
        let mut tally = Tally::default();
        for line in [
            "test result: ok. 15 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 filtered out; finished in 0.02s",
            "ℹ pass 4",
            "ℹ fail 1",
            "# pass 2",
            "test some_name_with_passed_in_it ... ok",
        ] {
            tally.count(line);
        }
        assert_eq!((tally.passed, tally.failed), (24, 3));
    }
}
