//! Sets `PORTCULLIS_COMMIT` (for `--version` and `portcullis_build_info`) from the
//! environment if given, else from git; outside a git checkout it stays unset and the
//! binary says `unknown`.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PORTCULLIS_COMMIT");
    if let Ok(commit) = std::env::var("PORTCULLIS_COMMIT")
        && !commit.is_empty()
    {
        println!("cargo:rustc-env=PORTCULLIS_COMMIT={commit}");
        return;
    }
    let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) else {
        return;
    };
    println!("cargo:rustc-env=PORTCULLIS_COMMIT={commit}");
    // Rebuild when HEAD moves: the HEAD file (branch switches) and the branch's ref file
    // (commits), plus packed-refs.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
    }
    if let Some(common) = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]) {
        let packed = format!("{common}/packed-refs");
        if Path::new(&packed).exists() {
            println!("cargo:rerun-if-changed={packed}");
        }
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            let path = format!("{common}/{reference}");
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}
