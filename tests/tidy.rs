//! Tidy checks: the invariants ARCHITECTURE.md states, enforced over the source tree.
//!
//! Each test reads files as text (comments and string contents removed where that matters) and names every
//! offending place, so a broken invariant reads as a to-do list. They run with the core's `cargo test`, and
//! `cargo xtask lint` runs them too.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Source files longer than this (outside tests) are split along their seams.
const MAX_SOURCE_LINES: usize = 800;

/// The workspace's crates: (source folder, root file).
const CRATES: &[(&str, &str)] = &[
    ("src", "src/lib.rs"),
    ("web/src", "web/src/lib.rs"),
    ("background/src", "background/src/lib.rs"),
    ("engine/src", "engine/src/lib.rs"),
    ("popup/src", "popup/src/lib.rs"),
    ("xtask/src", "xtask/src/main.rs"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file below `dir` (relative to the workspace root) whose name ends with one of `endings`.
fn files(dir: &str, endings: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root().join(dir)];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "node_modules" && name != "target" {
                    stack.push(path);
                }
            } else if endings.iter().any(|it| name.ends_with(it)) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).to_string_lossy().into_owned()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// Rust source with comments removed and string and char literals emptied, line structure kept.
fn code_of(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !is_ident(chars.get(i.wrapping_sub(1))) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some('\n') => out.push('\n'),
                    _ => {}
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                } else if chars[i] == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{..}'.
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

#[test]
fn no_source_file_outside_tests_is_over_the_line_limit() {
    let mut long = Vec::new();
    for (dir, _) in CRATES {
        for path in files(dir, &[".rs"]) {
            let lines = read(&path).lines().count();
            if lines > MAX_SOURCE_LINES {
                long.push(format!("{} has {lines} lines", relative(&path)));
            }
        }
    }
    assert!(long.is_empty(), "split these along their seams (at most {MAX_SOURCE_LINES} lines):\n{}", long.join("\n"));
}

#[test]
fn only_web_chrome_rs_names_chrome_apis() {
    let mut found = Vec::new();
    for (dir, _) in CRATES {
        for path in files(dir, &[".rs"]) {
            let name = relative(&path);
            if name == "web/src/chrome.rs" {
                continue;
            }
            // Binding an extension API takes a `js_namespace` naming it, or a global looked up by name.
            for (n, line) in read(&path).lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                let names_api = code.contains("\"chrome\"") || code.contains("\"browser\"");
                let binds = code.contains("js_namespace") || code.contains("Reflect::get") || code.contains("global");
                let bare = code.contains("js_namespace = chrome") || code.contains("js_namespace = browser");
                if (names_api && binds) || bare {
                    found.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    // JavaScript shipped in the extension: `popup/static/wake.js` wakes the worker before any wasm loads, and
    // `background/static/worker.js` registers the worker's listeners during its first evaluation, as Chrome
    // requires, before the wasm has been fetched.
    let allowed = ["popup/static/wake.js", "background/static/worker.js"];
    for dir in ["popup/static", "background/static", "engine/static"] {
        for path in files(dir, &[".js", ".html"]) {
            let name = relative(&path);
            if allowed.contains(&name.as_str()) {
                continue;
            }
            for (n, line) in read(&path).lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if code.contains("chrome.") || code.contains("browser.") {
                    found.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "only web/src/chrome.rs may name chrome.* (and the JavaScript allowed above):\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_worker_writes_extension_storage() {
    let writers = ["storage_apply", "session_set", "session_remove", "files_apply"];
    let mut found = Vec::new();
    for (dir, _) in CRATES {
        for path in files(dir, &[".rs"]) {
            let name = relative(&path);
            if name == "web/src/chrome.rs"
                || name == "web/src/file_store.rs"
                || name.starts_with("background/src/worker")
            {
                continue;
            }
            for (n, line) in code_of(&read(&path)).lines().enumerate() {
                if writers.iter().any(|it| line.contains(it)) {
                    found.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "only the worker (background/src/worker*) writes storage:\n{}", found.join("\n"));
}

#[test]
fn the_core_reads_no_clock_draws_no_randomness_and_binds_no_web_api() {
    let banned = [
        "Instant::now",
        "SystemTime",
        "Date::now",
        "getrandom",
        "thread_rng",
        "OsRng",
        "rand::",
        "wasm_bindgen",
        "web_sys",
        "js_sys",
        "std::net",
        "std::fs",
    ];
    let mut found = Vec::new();
    for path in files("src", &[".rs"]) {
        for (n, line) in code_of(&read(&path)).lines().enumerate() {
            for word in banned {
                if line.contains(word) {
                    found.push(format!("{}:{}: {word}", relative(&path), n + 1));
                }
            }
        }
    }
    let manifest = read(&root().join("Cargo.toml"));
    let dependencies = manifest.split("[dependencies]").nth(1).unwrap_or("").split("\n[").next().unwrap_or("");
    for crate_name in ["wasm-bindgen", "web-sys", "js-sys", "getrandom", "rand", "rand_core", "web-time"] {
        if dependencies.lines().any(|line| line.split(['=', '.', ' ']).next() == Some(crate_name)) {
            found.push(format!("Cargo.toml: the core depends on {crate_name}"));
        }
    }
    assert!(
        found.is_empty(),
        "the core (src/) takes time and randomness as inputs and binds no web API:\n{}",
        found.join("\n")
    );
}

#[test]
fn architecture_names_every_test_file() {
    let map = read(&root().join("ARCHITECTURE.md"));
    // The `tests/` section of the code map, so a test named like a source file (`auth_gate.rs`) is not
    // taken as named by the source file's entry.
    let section = map.split("### `tests/`").nth(1).unwrap_or("");
    let section = section.split("\n## ").next().unwrap_or("").split("\n### ").next().unwrap_or("");
    let mut missing = Vec::new();
    for path in files("tests", &[".rs", ".mjs", ".js"]) {
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let folder = path.parent().and_then(|it| it.file_name()).unwrap_or_default().to_string_lossy().into_owned();
        // A test's own page may be named by its folder (`mallory/`); a test file is named by its file name.
        let by_folder =
            !["tests", "e2e", "bench"].contains(&folder.as_str()) && section.contains(&format!("{folder}/"));
        if !section.contains(&name) && !by_folder {
            missing.push(relative(&path));
        }
    }
    for path in files("web/tests", &[".rs"]) {
        if !map.contains(&relative(&path)) {
            missing.push(relative(&path));
        }
    }
    assert!(missing.is_empty(), "ARCHITECTURE.md's test list misses:\n{}", missing.join("\n"));
}

/// One crate's modules: module path (`chat::node`) to its file, and each file's `pub use` re-exports.
struct ModuleTree {
    files: BTreeMap<Vec<String>, PathBuf>,
}

impl ModuleTree {
    fn of(dir: &str, root_file: &str) -> ModuleTree {
        let base = root().join(dir);
        let root_file = root().join(root_file);
        let mut files = BTreeMap::new();
        for path in files_in(&base) {
            if path == root_file {
                files.insert(Vec::new(), path);
                continue;
            }
            let relative = path.strip_prefix(&base).expect("below the crate folder").with_extension("");
            let mut segments: Vec<String> =
                relative.components().map(|it| it.as_os_str().to_string_lossy().into_owned()).collect();
            if segments.last().is_some_and(|it| it == "mod") {
                segments.pop();
            }
            files.insert(segments, path);
        }
        ModuleTree { files }
    }

    /// The module a file defines.
    fn module_of(&self, file: &Path) -> Vec<String> {
        self.files.iter().find(|(_, it)| it.as_path() == file).map(|(module, _)| module.clone()).unwrap_or_default()
    }

    /// The file a path (absolute within the crate) lands in: the deepest module it names, following the
    /// re-exports of that module to the file that defines the item, so `crate::chat::RoomId` means
    /// `chat/ids.rs`, not `chat/mod.rs`.
    fn resolve(&self, path: &[String], depth: usize) -> Option<PathBuf> {
        let mut deepest = 0;
        for n in (0..=path.len()).rev() {
            if self.files.contains_key(&path[..n]) {
                deepest = n;
                break;
            }
        }
        let module = &path[..deepest];
        let file = self.files.get(module)?;
        if let (Some(item), true) = (path.get(deepest), depth < 8) {
            for export in self.reexports(file, module) {
                if export.last() == Some(item) && export.len() > 1 {
                    let target = &export[..export.len() - 1];
                    if let Some(found) = self.resolve(&[target, &path[deepest + 1..]].concat(), depth + 1) {
                        return Some(found);
                    }
                }
            }
        }
        Some(file.clone())
    }

    /// The absolute paths a module's `pub use` statements re-export (glob re-exports end in `*`).
    fn reexports(&self, file: &Path, module: &[String]) -> Vec<Vec<String>> {
        let code = code_of(&read(file));
        use_statements(&code)
            .into_iter()
            .filter(|(public, _)| *public)
            .flat_map(|(_, tree)| expand(&tree))
            .filter_map(|path| absolute(&path, module))
            .collect()
    }
}

fn files_in(base: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![base.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|it| it == "rs") {
                found.push(path);
            }
        }
    }
    found
}

/// The `use` statements of some code: (is it `pub`, its tree as written).
fn use_statements(code: &str) -> Vec<(bool, String)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = code[at..].find("use ") {
        let start = at + offset;
        at = start + 4;
        let before = code[..start].trim_end();
        let boundary = start == 0 || !is_ident(code[..start].chars().last().as_ref());
        if !boundary {
            continue;
        }
        // Only item position: after `;`, `{`, `}`, an attribute, `pub`, `pub(crate)`, or at the start.
        let public = before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
        let item_start = before.is_empty()
            || before.ends_with(';')
            || before.ends_with('{')
            || before.ends_with('}')
            || before.ends_with(']')
            || public;
        if !item_start {
            continue;
        }
        let Some(end) = code[at..].find(';') else { break };
        let tree = code[at..at + end].split_whitespace().collect::<Vec<_>>().join(" ");
        found.push((public, tree));
        at += end;
    }
    found
}

/// A use tree (`crate::{a::B, c::{D, E as F}}`) as the paths it names.
fn expand(tree: &str) -> Vec<Vec<String>> {
    fn walk(tree: &str, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let tree = tree.trim().trim_start_matches("::");
        if let Some(open) = tree.find('{') {
            let head: Vec<String> =
                tree[..open].split("::").map(str::trim).filter(|it| !it.is_empty()).map(String::from).collect();
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut depth = 0;
            let mut piece = String::new();
            let prefix = [prefix, &head].concat();
            for c in inner.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if c == ',' && depth == 0 {
                    walk(&piece, &prefix, out);
                    piece.clear();
                } else {
                    piece.push(c);
                }
            }
            if !piece.is_empty() {
                walk(&piece, &prefix, out);
            }
        } else {
            let without_alias = tree.split(" as ").next().unwrap_or(tree);
            let mut path: Vec<String> = prefix.to_vec();
            path.extend(without_alias.split("::").map(str::trim).filter(|it| !it.is_empty()).map(String::from));
            if path.last().is_some_and(|it| it == "self") {
                path.pop();
            }
            out.push(path);
        }
    }
    let mut out = Vec::new();
    walk(tree, &[], &mut out);
    out
}

/// A path as seen from `module`, made absolute within the crate; paths into other crates give `None`.
fn absolute(path: &[String], module: &[String]) -> Option<Vec<String>> {
    let first = path.first()?;
    match first.as_str() {
        "crate" => Some(path[1..].to_vec()),
        "self" => Some([module, &path[1..]].concat()),
        "super" => {
            let mut base = module.to_vec();
            let mut rest = path;
            while rest.first().is_some_and(|it| it == "super") {
                base.pop();
                rest = &rest[1..];
            }
            Some([&base[..], rest].concat())
        }
        _ => None,
    }
}

/// Every `crate::`/`super::`/`self::` path a file names, in `use` statements and inline.
fn paths_named(code: &str) -> Vec<Vec<String>> {
    let mut paths: Vec<Vec<String>> = use_statements(code).into_iter().flat_map(|(_, tree)| expand(&tree)).collect();
    for start in ["crate::", "super::"] {
        let mut at = 0;
        while let Some(offset) = code[at..].find(start) {
            let begin = at + offset;
            at = begin + start.len();
            if begin > 0 && is_ident(code[..begin].chars().last().as_ref()) {
                continue;
            }
            let rest = &code[begin..];
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            paths.push(rest[..end].split("::").filter(|it| !it.is_empty()).map(String::from).collect());
        }
    }
    paths
}

#[test]
fn no_import_cycle_between_files_of_a_crate() {
    let mut cycles = Vec::new();
    for (dir, root_file) in CRATES {
        if !root().join(root_file).exists() {
            continue;
        }
        let tree = ModuleTree::of(dir, root_file);
        let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
        for file in tree.files.values() {
            let module = tree.module_of(file);
            // A file's unit tests (its `#[cfg(test)]` module, last by convention) are not part of the build.
            let code = code_of(&read(file));
            let code = code.split("#[cfg(test)]").next().unwrap_or("");
            for path in paths_named(code) {
                let Some(path) = absolute(&path, &module) else { continue };
                if let Some(target) = tree.resolve(&path, 0)
                    && &target != file
                {
                    edges.entry(file.clone()).or_default().insert(target);
                }
            }
        }
        cycles.extend(
            find_cycles(&edges)
                .into_iter()
                .map(|cycle| cycle.iter().map(|it| relative(it)).collect::<Vec<_>>().join(" -> ")),
        );
    }
    assert!(cycles.is_empty(), "files that import each other (directly or around a loop):\n{}", cycles.join("\n"));
}

/// One cycle per strongly connected component of more than one file (Tarjan's algorithm), each closed.
fn find_cycles(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct Search<'a> {
        edges: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on_stack: BTreeSet<&'a PathBuf>,
        components: Vec<Vec<PathBuf>>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, node: &'a PathBuf) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.edges.get(node).into_iter().flatten() {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(top.clone());
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.reverse();
                    component.push(component[0].clone());
                    self.components.push(component);
                }
            }
        }
    }
    let mut search = Search {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in edges.keys() {
        if !search.index.contains_key(node) {
            search.visit(node);
        }
    }
    search.components
}

#[test]
fn the_tidy_parsers_read_what_they_should() {
    assert_eq!(code_of("let a = \"chrome.x\"; // chrome.y\nb"), "let a = \"\"; \nb");
    assert_eq!(code_of("let c = '\"'; x"), "let c = ' '; x");
    assert_eq!(code_of("r#\"a \" b\"# z"), "\"\" z");
    assert_eq!(
        expand("crate::{a::B, c::{self, D as E}}"),
        vec![vec!["crate", "a", "B"], vec!["crate", "c"], vec!["crate", "c", "D"]]
            .into_iter()
            .map(|it| it.into_iter().map(String::from).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    );
    let module = vec!["chat".to_owned(), "node".to_owned()];
    let path: Vec<String> = ["super", "room", "Room"].map(String::from).to_vec();
    assert_eq!(absolute(&path, &module), Some(["chat", "room", "Room"].map(String::from).to_vec()));
    let a = PathBuf::from("a");
    let b = PathBuf::from("b");
    let c = PathBuf::from("c");
    let edges = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone(), c.clone()])),
        (c.clone(), BTreeSet::new()),
    ]);
    assert_eq!(find_cycles(&edges), vec![vec![a.clone(), b, a]]);
}
