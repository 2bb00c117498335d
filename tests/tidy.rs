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
    for dir in ["crates", "python", "tests", "benches", "fuzz"] {
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
    out.push(root().join("python/Cargo.toml"));
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

/// The internal crates a crate may use in a build (ARCHITECTURE.md, "Dependency edges"); the
/// root package is the binary and may use every library but the test kit, and so may the Python
/// package's extension (python/), the other edge.
const ALLOWED_EDGES: &[(&str, &[&str])] = &[
    ("dropscope-model", &[]),
    ("dropscope-tables", &["dropscope-model"]),
    ("dropscope-logs", &["dropscope-model", "dropscope-tables"]),
    ("dropscope-engine", &["dropscope-model"]),
    ("dropscope-sim", &["dropscope-model", "dropscope-logs", "dropscope-tables"]),
    ("dropscope-report", &["dropscope-model"]),
    ("dropscope-testkit", &[]),
    (
        "dropscope-python",
        &[
            "dropscope-model",
            "dropscope-tables",
            "dropscope-logs",
            "dropscope-engine",
            "dropscope-sim",
            "dropscope-report",
        ],
    ),
    (
        "dropscope",
        &[
            "dropscope-model",
            "dropscope-tables",
            "dropscope-logs",
            "dropscope-engine",
            "dropscope-sim",
            "dropscope-report",
        ],
    ),
];

/// The internal crates named in the sections of `manifest` whose header `is_section` accepts.
fn internal_deps(manifest: &str, is_section: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for section in manifest.split("\n[") {
        let header = section.lines().next().unwrap_or("").trim_start_matches('[');
        if !is_section(header) {
            continue;
        }
        for line in section.lines().skip(1) {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("");
            if name.starts_with("dropscope-") && !out.iter().any(|n| n == name) {
                out.push(name.to_owned());
            }
        }
    }
    out
}

/// `[dependencies]`, `[build-dependencies]` and every `[target.'cfg(..)'.dependencies]`: what a
/// build of the crate uses.
fn is_build_section(header: &str) -> bool {
    header == "dependencies]"
        || header == "build-dependencies]"
        || (header.starts_with("target.") && header.ends_with(".dependencies]"))
}

fn is_dev_section(header: &str) -> bool {
    header == "dev-dependencies]"
        || (header.starts_with("target.") && header.ends_with(".dev-dependencies]"))
}

/// Every package of the workspace: (name, manifest text).
fn packages() -> Vec<(String, String)> {
    manifests()
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable");
            let name = text
                .lines()
                .find_map(|line| line.strip_prefix("name = \""))
                .and_then(|rest| rest.strip_suffix('"'))
                .expect("a package name")
                .to_owned();
            (name, text)
        })
        .collect()
}

#[test]
fn internal_dependency_edges_go_one_way() {
    for (name, text) in packages() {
        let allowed = ALLOWED_EDGES
            .iter()
            .find(|(krate, _)| *krate == name)
            .unwrap_or_else(|| {
                panic!("{name} is not in ALLOWED_EDGES: add it, and to ARCHITECTURE.md")
            })
            .1;
        for dep in internal_deps(&text, is_build_section) {
            assert!(allowed.contains(&dep.as_str()), "{name} must not depend on {dep}");
        }
    }
}

/// A dev-dependency may go sideways (the engine's tests use the simulator), but the crates and
/// their test builds together still form no cycle, and the test kit stays a dev-dependency.
#[test]
fn dev_dependencies_make_no_cycle() {
    let packages = packages();
    let mut edges: Vec<(String, Vec<String>)> = Vec::new();
    for (name, text) in &packages {
        let mut deps = internal_deps(text, is_build_section);
        assert!(
            !deps.iter().any(|d| d == "dropscope-testkit"),
            "{name} uses dropscope-testkit outside its dev-dependencies"
        );
        deps.extend(internal_deps(text, is_dev_section).into_iter().filter(|d| d != name));
        edges.push((name.clone(), deps));
    }
    let names: Vec<&str> = edges.iter().map(|(n, _)| n.as_str()).collect();
    let graph: Vec<Vec<usize>> = edges
        .iter()
        .map(|(_, deps)| deps.iter().filter_map(|d| names.iter().position(|n| n == d)).collect())
        .collect();
    if let Some(cycle) = find_cycle(&graph) {
        let cycle: Vec<&str> = cycle.iter().map(|&i| names[i]).collect();
        panic!("internal crates depend on each other in a circle: {}", cycle.join(" -> "));
    }
}

/// A cycle in `graph` (node -> the nodes it points to), as the nodes along it, if there is one.
fn find_cycle(graph: &[Vec<usize>]) -> Option<Vec<usize>> {
    // 0 unvisited, 1 on the current path, 2 done.
    fn visit(
        node: usize,
        graph: &[Vec<usize>],
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[node] = 1;
        path.push(node);
        for &next in &graph[node] {
            if state[next] == 1 {
                let from = path.iter().position(|&n| n == next).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(next);
                return Some(cycle);
            }
            if state[next] == 0
                && let Some(cycle) = visit(next, graph, state, path)
            {
                return Some(cycle);
            }
        }
        path.pop();
        state[node] = 2;
        None
    }
    let mut state = vec![0_u8; graph.len()];
    let mut path = Vec::new();
    (0..graph.len()).find_map(|node| {
        if state[node] == 0 { visit(node, graph, &mut state, &mut path) } else { None }
    })
}

/// The house style keeps serialisation at the edges: the engine returns model types, and only the
/// report crate and the CLI serialise them.
#[test]
fn no_serde_in_the_engine() {
    let dir = root().join("crates/dropscope-engine");
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("readable");
    assert!(!manifest.contains("serde"), "dropscope-engine's Cargo.toml names serde");
    let mut sources = Vec::new();
    files(&dir.join("src"), "rs", &mut sources);
    for path in sources {
        let text = std::fs::read_to_string(&path).expect("readable");
        assert!(!text.contains("serde"), "{} uses serde", path.display());
    }
}

/// `unsafe_code` is denied workspace-wide; the files that allow it are exactly the ones
/// ARCHITECTURE.md lists on its line "Files that allow `unsafe_code`: ...".
#[test]
fn unsafe_code_only_where_architecture_md_says() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("readable");
    let line = architecture
        .lines()
        .find(|line| line.contains("Files that allow `unsafe_code`:"))
        .expect("ARCHITECTURE.md lists the files that allow unsafe_code");
    let mut listed: Vec<String> = line
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|item| Path::new(item).extension().is_some_and(|ext| ext == "rs"))
        .map(str::to_owned)
        .collect();
    listed.sort();
    let needle = concat!("allow(", "unsafe_code");
    let mut found: Vec<String> = rust_files()
        .into_iter()
        .filter(|path| !path.starts_with(root().join("fuzz")))
        .filter(|path| std::fs::read_to_string(path).unwrap_or_default().contains(needle))
        .map(|path| {
            path.strip_prefix(root()).expect("under the root").to_string_lossy().into_owned()
        })
        .collect();
    found.sort();
    assert_eq!(found, listed, "files that allow unsafe_code, against ARCHITECTURE.md's list");
}

/// The modules of each crate use each other one way: no module reaches another through `crate::`
/// paths that lead back to itself (a parent and its own children may use each other). A unit test
/// module may go sideways, as a dev-dependency may: the direct Parquet paths' tests compare them
/// with the DataFrame path that sits above them.
#[test]
fn no_import_circles_between_modules() {
    let mut roots: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .expect("crates/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .map(|dir| if dir.join("src").is_dir() { dir.join("src") } else { dir })
        .collect();
    roots.sort();
    roots.push(root().join("python/src"));
    for src in roots {
        let mut sources = Vec::new();
        files(&src, "rs", &mut sources);
        let modules: Vec<String> = sources.iter().map(|path| module_path(&src, path)).collect();
        let graph: Vec<Vec<usize>> = sources
            .iter()
            .enumerate()
            .map(|(idx, path)| {
                let text = std::fs::read_to_string(path).expect("readable");
                let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
                let mut out: Vec<usize> = crate_paths(code)
                    .iter()
                    .filter_map(|used| {
                        let target = (0..modules.len())
                            .filter(|&m| is_within(used, &modules[m]))
                            .max_by_key(|&m| modules[m].len())?;
                        let related = is_within(&modules[target], &modules[idx])
                            || is_within(&modules[idx], &modules[target]);
                        (!related).then_some(target)
                    })
                    .collect();
                out.sort_unstable();
                out.dedup();
                out
            })
            .collect();
        if let Some(cycle) = find_cycle(&graph) {
            let cycle: Vec<&str> = cycle.iter().map(|&m| modules[m].as_str()).collect();
            panic!(
                "modules of {} import each other in a circle: {}",
                src.display(),
                cycle.join(" -> ")
            );
        }
    }
}

/// `crates/x/src/a/b.rs` -> `a::b`; a crate root (`lib.rs`, `main.rs`) -> the empty path.
fn module_path(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under its source root").with_extension("");
    let parts: Vec<String> =
        relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if parts == ["lib"] || parts == ["main"] { String::new() } else { parts.join("::") }
}

/// Whether module path `inner` is `outer` or inside it (the empty path holds everything).
fn is_within(inner: &str, outer: &str) -> bool {
    outer.is_empty()
        || inner == outer
        || inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with("::"))
}

/// The module paths named after `crate::` in code (not in comments), with `use crate::{a, b::c}`
/// groups expanded.
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(inner) = rest.strip_prefix('{') {
                let group: String = inner.chars().take_while(|&c| c != '}').collect();
                for item in group.split(',') {
                    let path: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    out.push(path.trim_end_matches(':').to_owned());
                }
            } else {
                let path: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                out.push(path.trim_end_matches(':').to_owned());
            }
        }
    }
    out
}
