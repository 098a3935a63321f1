//! Imports point down the layers only (ARCHITECTURE.md): server → service → judge → fetch /
//! documents → policy / verdict, with telemetry beside them observing. A module that names
//! a layer above it (`use crate::server…`, or a `crate::service::…` path in code) couples
//! the lower layer to the upper one; this test reads the sources and fails on any.

use std::path::{Path, PathBuf};

/// (module paths under `src/`, the upper layers they must not name).
const RULES: &[(&[&str], &[&str])] = &[
    (
        &[
            "service",
            "judge.rs",
            "fetch",
            "documents",
            "policy",
            "verdict",
            "telemetry",
            "request.rs",
        ],
        &["server"],
    ),
    (
        &[
            "telemetry",
            "fetch",
            "documents",
            "policy",
            "verdict",
            "judge.rs",
            "request.rs",
        ],
        &["service"],
    ),
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for entry in entries {
            rust_files(&entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// Every `file:line` of `src/<module>` that names `crate::<upper>` in code (comments are
/// skipped: a doc link may mention the layer that uses this one).
fn upward_references(module: &str, upper: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(module);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "no sources under {}", root.display());
    let needles = [
        format!("crate::{upper}::"),
        format!("crate::{upper};"),
        format!("crate::{upper}::{{"),
    ];
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if needles.iter().any(|needle| code.contains(needle.as_str())) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, code));
            }
        }
    }
    found
}

#[test]
fn imports_point_down_the_layers() {
    let mut upward = Vec::new();
    for (modules, uppers) in RULES {
        for module in *modules {
            for upper in *uppers {
                upward.extend(upward_references(module, upper));
            }
        }
    }
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

#[test]
fn the_scan_sees_an_upward_import() {
    // The server does name the service: the scanner must find that, or it proves nothing.
    assert!(!upward_references("server", "service").is_empty());
}
