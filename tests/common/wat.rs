//! Hostile components written in WebAssembly text (`guests/wat`, see the
//! README there): expanded, given the `weavelet:node` world and wrapped into a
//! component with `wit-component`, the way a C guest is built.

use std::path::Path;

/// The component built from `guests/wat/<name>.wat`; returns its path.
pub fn wat_component(name: &str) -> String {
    build(name, None)
}

/// The same module as a component of contract `version`: built against that
/// frozen WIT when the host keeps it (`runtime/wasm/wit-<version>/`), else the
/// current WIT with its version changed (what a newer weavelet's SDK would make).
pub fn wat_component_for(name: &str, version: &str) -> String {
    build(name, Some(version))
}

fn build(name: &str, version: Option<&str>) -> String {
    let root = super::repo();
    let file = root.join("guests/wat").join(format!("{name}.wat"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let wit_file = root.join("wit/node.wit");
    let mut wit =
        std::fs::read_to_string(&wit_file).unwrap_or_else(|e| panic!("{}: {e}", wit_file.display()));
    let mut text = expand_markers(&text);
    if let Some(version) = version {
        let current = wit
            .lines()
            .find_map(|l| l.strip_prefix("package weavelet:node@"))
            .map(|v| v.trim_end_matches(';').to_string())
            .unwrap_or_else(|| panic!("no package line in {}", wit_file.display()));
        let frozen = root.join(format!("runtime/wasm/wit-{version}/node.wit"));
        wit = match std::fs::read_to_string(&frozen) {
            Ok(old) => old,
            Err(_) => wit.replace(&format!("weavelet:node@{current}"), &format!("weavelet:node@{version}")),
        };
        text =
            text.replace(&format!("weavelet:node/node@{current}"), &format!("weavelet:node/node@{version}"));
    }
    let mut module = wat::parse_str(text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str(&wit_file, &wit).unwrap_or_else(|e| panic!("wit/: {e:#}"));
    let world = resolve.select_world(&[pkg], Some("module")).unwrap_or_else(|e| panic!("{e:#}"));
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap_or_else(|e| panic!("{}: {e:#}", file.display()));
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .unwrap_or_else(|e| panic!("{}: cannot make a component: {e:#}", file.display()));
    // Tests run in parallel: write a private file, then rename it into place.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wat");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let stem = match version {
        Some(version) => format!("{name}-{version}"),
        None => name.to_string(),
    };
    let wasm = dir.join(format!("{stem}.wasm"));
    let tmp = dir.join(format!(".{stem}-{}-{:?}.wasm", std::process::id(), std::thread::current().id()));
    std::fs::write(&tmp, component).unwrap_or_else(|e| panic!("{e}"));
    std::fs::rename(&tmp, &wasm).unwrap_or_else(|e| panic!("{e}"));
    wasm.display().to_string()
}

/// Expand `(; weavelet:node NAME ;)` and `(; weavelet:realloc ;)`.
fn expand_markers(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let marker = line.trim().strip_prefix("(; weavelet:").and_then(|m| m.strip_suffix(" ;)"));
        match marker.map(|m| m.split_once(' ').unwrap_or((m, ""))) {
            Some(("node", name)) => out.push_str(&declare_node(name)),
            Some(("realloc", _)) => out.push_str(BUMP_REALLOC),
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// A bump allocator from 4096 up; memory is never freed (one call per instance).
const BUMP_REALLOC: &str = r#"
  (global $next (mut i32) (i32.const 4096))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $at i32)
    (local.set $at (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                            (i32.sub (i32.const 0) (local.get 2))))
    (global.set $next (i32.add (local.get $at) (local.get 3)))
    (if (i32.gt_u (global.get $next) (i32.mul (memory.size 0) (i32.const 65536)))
      (then unreachable))
    (local.get $at))"#;

/// `nodes` answering one node `name` (no inputs, an `int` output), laid out
/// as the canonical ABI wants it: the list at 128, its one `node-decl` at 256,
/// the name at 1024; and `ok(int 7)` at 64 for `run` to return.
fn declare_node(name: &str) -> String {
    let words = |ws: &[u32]| ws.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>();
    let escape = |bytes: &[u8]| bytes.iter().map(|b| format!("\\{b:02x}")).collect::<String>();
    let list = words(&[256, 1]);
    // name, doc, inputs, output (value-type `int` = 3, padded), output-columns, capabilities
    let mut decl = words(&[1024, name.len() as u32, 1024, 0, 0, 0]);
    decl.extend([3, 0, 0, 0]);
    decl.extend(words(&[0, 0, 0, 0]));
    // result<value, node-error>: ok (0), then at 8 the value case `int` (2), at 16 the s64 7.
    let mut result = vec![0u8; 24];
    result[8] = 2;
    result[16] = 7;
    format!(
        r#"  (data (i32.const 64) "{}")
  (data (i32.const 128) "{}")
  (data (i32.const 256) "{}")
  (data (i32.const 1024) "{name}")
  (func (export "weavelet:node/node@0.4.0#nodes") (result i32) (i32.const 128))"#,
        escape(&result),
        escape(&list),
        escape(&decl)
    )
}
