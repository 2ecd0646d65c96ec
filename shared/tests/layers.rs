//! The library's layers import only downwards (docs/ARCHITECTURE.md): each top-level module
//! may name (`crate::<module>`) only modules of a lower layer, so there are no cycles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module of `shared/src` and its layer, lowest first.
const LAYERS: &[(&str, u8)] = &[
    ("config", 0),
    ("telemetry", 1),
    ("domain", 1),
    ("assistant", 2),
    ("store", 2),
    ("dapr", 1),
    ("events", 3),
    ("webhooks", 3),
    ("http", 4),
    ("handlers", 5),
    ("harness", 6),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_imports_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut seen = std::collections::BTreeSet::new();
    let mut upward = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" {
            continue;
        }
        let own = *layer
            .get(top.as_str())
            .unwrap_or_else(|| panic!("shared/src/{top}: add it to LAYERS"));
        seen.insert(top.clone());
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let Some(&theirs) = layer.get(name.as_str()) else {
                continue; // an item of the crate root (e.g. crate::ApiError)
            };
            if name != top && theirs >= own {
                upward.push(format!("{}: crate::{name}", relative.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that do not go down:\n{}",
        upward.join("\n")
    );
    assert_eq!(seen.len(), LAYERS.len(), "every layer exists: {seen:?}");
}
