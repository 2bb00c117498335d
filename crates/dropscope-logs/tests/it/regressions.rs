//! Replays every minimized fuzz crash in `data/fuzz-regressions/<target>/` through its target.

use dropscope_logs::fuzz;
use dropscope_testkit::data_path;

#[test]
fn fuzz_regressions_replay() {
    let mut replayed = 0;
    for (name, target) in fuzz::targets() {
        let Ok(entries) = std::fs::read_dir(data_path(&format!("fuzz-regressions/{name}"))) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            target(&bytes);
            replayed += 1;
        }
    }
    // Every target's seeds from data/ go through all targets too.
    for seed in ["fuzz-seeds", "golden/fixtures"] {
        let Ok(entries) = std::fs::read_dir(data_path(seed)) else { continue };
        for entry in entries.flatten() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            for (_, target) in fuzz::targets() {
                target(&bytes);
            }
            replayed += 1;
        }
    }
    assert!(replayed > 0);
}
