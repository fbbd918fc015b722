//! Puts the git commit into `vpcflow --version`: `0.1.0 (commit 1a2b3c4d5e6f, 2026-11-27)`.
//! Without git (a source tarball), `VPCFLOW_GIT_COMMIT` names it, else the version says
//! `commit unknown`.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(std::env::var_os("CARGO_MANIFEST_DIR")?)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=VPCFLOW_GIT_COMMIT");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let from_env = std::env::var("VPCFLOW_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty());
    let commit = from_env.or_else(|| {
        let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
        // Rebuild when HEAD moves: its file, and the branch it names.
        if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
            let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?).join(dir);
            println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
        }
        if let (Some(common), Some(head)) = (
            git(&["rev-parse", "--git-common-dir"]),
            git(&["rev-parse", "--symbolic-full-name", "HEAD"]),
        ) {
            let common = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?).join(common);
            println!("cargo:rerun-if-changed={}", common.join(&head).display());
            println!(
                "cargo:rerun-if-changed={}",
                common.join("packed-refs").display()
            );
        }
        let date = git(&["log", "-1", "--format=%cs"]);
        Some(match date {
            Some(d) => format!("{commit}, {d}"),
            None => commit,
        })
    });
    let full = match commit {
        Some(c) => format!("{version} (commit {c})"),
        None => format!("{version} (commit unknown: built without git)"),
    };
    println!("cargo:rustc-env=VPCFLOW_VERSION={full}");
}
