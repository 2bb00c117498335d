//! Tidy checks over the source tree: `//!` headers, workspace lints, dependency edges, and no
//! ignored or should-panic tests.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name == "target" || name == "corpus" || name == "artifacts" {
            continue;
        }
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

fn rust_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["crates", "tests", "benches", "fuzz"] {
        files(&root().join(dir), "rs", &mut out);
    }
    out
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let missing: Vec<_> = rust_files()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(missing.is_empty(), "files without a `//!` header: {missing:#?}");
}

#[test]
fn no_ignored_or_should_panic_tests() {
    let needle_ignore = concat!("#[", "ignore");
    let needle_panic = concat!("#[", "should_panic");
    let offenders: Vec<_> = rust_files()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            text.contains(needle_ignore) || text.contains(needle_panic)
        })
        .collect();
    assert!(offenders.is_empty(), "{offenders:#?}");
}

fn manifests() -> Vec<PathBuf> {
    let mut out = vec![root().join("Cargo.toml")];
    let mut crates: Vec<_> = std::fs::read_dir(root().join("crates"))
        .expect("crates/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path().join("Cargo.toml"))
        .filter(|p| p.exists())
        .collect();
    crates.sort();
    out.extend(crates);
    out
}

#[test]
fn every_manifest_uses_workspace_lints() {
    for manifest in manifests() {
        let text = std::fs::read_to_string(&manifest).expect("readable");
        assert!(
            text.contains("[lints]\nworkspace = true"),
            "{} lacks `[lints] workspace = true`",
            manifest.display()
        );
    }
}

/// The allowed edges between internal crates (ARCHITECTURE.md): normal dependencies only;
/// dev-dependencies may go sideways as long as they make no cycle.
#[test]
fn internal_dependency_edges_go_one_way() {
    let allowed: &[(&str, &[&str])] = &[
        ("dropscope-model", &[]),
        ("dropscope-tables", &["dropscope-model"]),
        ("dropscope-logs", &["dropscope-model", "dropscope-tables"]),
        ("dropscope-engine", &["dropscope-model"]),
        ("dropscope-sim", &["dropscope-model", "dropscope-logs", "dropscope-tables"]),
        ("dropscope-report", &["dropscope-model"]),
        ("dropscope-testkit", &[]),
    ];
    for (krate, deps) in allowed {
        let manifest = root().join("crates").join(krate).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).expect("readable");
        let normal =
            text.split("\n[").find(|section| section.starts_with("dependencies]")).unwrap_or("");
        for line in normal.lines().skip(1) {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("");
            if name.starts_with("dropscope-") {
                assert!(deps.contains(&name), "{krate} must not depend on {name}");
            }
        }
    }
}
