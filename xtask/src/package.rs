//! `cargo xtask package`: what the two stores take, from one build and one version number.
//!
//! - `multichat-<version>-chrome.zip`: `dist/` for the Chrome Web Store, its manifest without the keys only
//!   Firefox reads (`background.scripts`, `browser_specific_settings`).
//! - `multichat-<version>-firefox.zip`: `dist/` for addons.mozilla.org, its manifest without what Firefox does
//!   not have (`background.service_worker`, the `offscreen` permission, `minimum_chrome_version`), and with the
//!   minimum versions that know `data_collection_permissions` (140 desktop, 142 Android).
//! - `multichat-<version>-source.zip`: the committed source tree (`git archive HEAD`), which
//!   addons.mozilla.org asks for with compiled code; the README's "Building from source" says how to rebuild.
//!
//! The version is `manifest.json`'s; the workspace's Cargo version must equal it, so nothing ships two numbers.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use zip::write::SimpleFileOptions;

use crate::{build, root};

/// Where the archives go.
pub(crate) fn out_dir() -> PathBuf {
    root().join("target/package")
}

/// Builds `dist/`, then writes the three archives.
pub(crate) fn package() -> Result<()> {
    let dist = build::build()?;
    write(&dist).map(drop)
}

/// Writes the three archives of an already built `dist` and returns their paths.
pub(crate) fn write(dist: &Path) -> Result<Vec<PathBuf>> {
    let version = version()?;
    let out = out_dir();
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let manifest: Value =
        serde_json::from_str(&fs::read_to_string(dist.join("manifest.json"))?).context("reading dist/manifest.json")?;
    let chrome = out.join(format!("multichat-{version}-chrome.zip"));
    zip_dir(dist, &chrome_manifest(&manifest), &chrome)?;
    let firefox = out.join(format!("multichat-{version}-firefox.zip"));
    zip_dir(dist, &firefox_manifest(&manifest), &firefox)?;
    let mut archives = vec![chrome, firefox];
    // A reviewer rebuilding from the unpacked source archive has no git checkout, and needs no new one.
    let in_git = Command::new("git")
        .current_dir(root())
        .args(["rev-parse", "--is-inside-work-tree"])
        .output()
        .is_ok_and(|it| it.status.success());
    if in_git {
        let source = out.join(format!("multichat-{version}-source.zip"));
        let status = Command::new("git")
            .current_dir(root())
            .args(["archive", "--format=zip", &format!("--prefix=multichat-{version}/"), "-o"])
            .arg(&source)
            .arg("HEAD")
            .status()
            .context("running git archive")?;
        if !status.success() {
            bail!("git archive failed with {status}");
        }
        archives.push(source);
    } else {
        println!("package: not a git checkout, so no source archive (the extension archives are written)");
    }
    for archive in &archives {
        let size = fs::metadata(archive)?.len();
        println!(
            "package: {} ({:.1} KiB)",
            archive.strip_prefix(root()).unwrap_or(archive).display(),
            size as f64 / 1024.0
        );
    }
    Ok(archives)
}

/// The one version number: `manifest.json`'s, checked against the workspace's Cargo version.
pub(crate) fn version() -> Result<String> {
    let manifest: Value =
        serde_json::from_str(&fs::read_to_string(root().join("manifest.json"))?).context("reading manifest.json")?;
    let version = manifest["version"].as_str().context("manifest.json has no version")?.to_owned();
    let cargo = fs::read_to_string(root().join("Cargo.toml")).context("reading Cargo.toml")?;
    let workspace = cargo.split("[workspace.package]").nth(1).context("Cargo.toml has no [workspace.package]")?;
    let cargo_version = workspace
        .lines()
        .find_map(|line| line.trim().strip_prefix("version = "))
        .map(|it| it.trim_matches('"').to_owned())
        .context("[workspace.package] has no version")?;
    if cargo_version != version {
        bail!("manifest.json says version {version} but Cargo.toml's [workspace.package] says {cargo_version}");
    }
    Ok(version)
}

/// The manifest for the Chrome Web Store: Chrome ignores, with a warning, the keys only Firefox reads.
fn chrome_manifest(manifest: &Value) -> Value {
    let mut manifest = manifest.clone();
    if let Some(object) = manifest.as_object_mut() {
        object.remove("browser_specific_settings");
        object.remove("sidebar_action");
    }
    if let Some(background) = manifest["background"].as_object_mut() {
        background.remove("scripts");
    }
    manifest
}

/// The manifest for addons.mozilla.org: Firefox runs `background.scripts` as its background page (where the
/// engine lives), and has no offscreen documents.
fn firefox_manifest(manifest: &Value) -> Value {
    let mut manifest = manifest.clone();
    if let Some(object) = manifest.as_object_mut() {
        object.remove("minimum_chrome_version");
        object.remove("side_panel");
    }
    if let Some(background) = manifest["background"].as_object_mut() {
        background.remove("service_worker");
    }
    if let Some(permissions) = manifest["permissions"].as_array_mut() {
        permissions.retain(|it| it != "offscreen" && it != "sidePanel");
    }
    let settings = &mut manifest["browser_specific_settings"];
    settings["gecko"]["strict_min_version"] = "140.0".into();
    settings["gecko_android"]["strict_min_version"] = "142.0".into();
    manifest
}

/// Zips `dir` with `manifest` in place of its `manifest.json`, files in a stable order and with fixed times,
/// so the same build gives the same archive.
fn zip_dir(dir: &Path, manifest: &Value, archive: &Path) -> Result<()> {
    let file = fs::File::create(archive).with_context(|| format!("creating {}", archive.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("manifest.json", options)?;
    zip.write_all(serde_json::to_string_pretty(manifest)?.as_bytes())?;
    for path in files_below(dir)? {
        let name = path.strip_prefix(dir).expect("below dist").to_string_lossy().replace('\\', "/");
        if name == "manifest.json" {
            continue;
        }
        zip.start_file(name, options)?;
        zip.write_all(&fs::read(&path).with_context(|| format!("reading {}", path.display()))?)?;
    }
    zip.finish()?;
    Ok(())
}

fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn both() -> Value {
        json!({
            "manifest_version": 3,
            "version": "1.2.3",
            "minimum_chrome_version": "116",
            "background": {"service_worker": "background/worker.js", "scripts": ["background/worker.js"], "type": "module"},
            "permissions": ["storage", "offscreen", "notifications", "sidePanel"],
            "side_panel": {"default_path": "popup/index.html?view=panel"},
            "sidebar_action": {"default_panel": "popup/index.html?view=panel"},
            "browser_specific_settings": {"gecko": {"id": "x@y", "strict_min_version": "128.0"}}
        })
    }

    #[test]
    fn the_chrome_manifest_has_no_firefox_keys() {
        let chrome = chrome_manifest(&both());
        assert_eq!(chrome["background"], json!({"service_worker": "background/worker.js", "type": "module"}));
        assert!(chrome.get("browser_specific_settings").is_none());
        assert!(chrome.get("sidebar_action").is_none());
        assert_eq!(chrome["side_panel"]["default_path"], "popup/index.html?view=panel");
        assert_eq!(chrome["permissions"], json!(["storage", "offscreen", "notifications", "sidePanel"]));
    }

    #[test]
    fn the_firefox_manifest_has_no_chrome_keys_and_the_versions_that_read_it() {
        let firefox = firefox_manifest(&both());
        assert_eq!(firefox["background"], json!({"scripts": ["background/worker.js"], "type": "module"}));
        assert_eq!(firefox["permissions"], json!(["storage", "notifications"]));
        assert!(firefox.get("side_panel").is_none());
        assert_eq!(firefox["sidebar_action"]["default_panel"], "popup/index.html?view=panel");
        assert!(firefox.get("minimum_chrome_version").is_none());
        assert_eq!(firefox["browser_specific_settings"]["gecko"]["id"], "x@y");
        assert_eq!(firefox["browser_specific_settings"]["gecko"]["strict_min_version"], "140.0");
        assert_eq!(firefox["browser_specific_settings"]["gecko_android"]["strict_min_version"], "142.0");
    }

    #[test]
    fn the_manifest_and_cargo_carry_one_version() {
        assert!(version().is_ok(), "{:?}", version());
    }
}
