//! `weavelet graph`: the DAG in every format, coloured by a dry run and by a
//! past run, for 5 nodes and for 500, through the real binary.

use std::path::Path;

use crate::common::stdout_of as stdout;
use crate::common::*;

/// `weavelet graph ARGS` in `dir`, with its own cache folder (history and results).
fn graph(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    weavelet_in(dir, &[&["graph"], args].concat())
}

fn run(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    weavelet_in(dir, &[&["run", "-q"], args].concat())
}

/// The demo with its node crate prebuilt.
fn demo(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo().join("examples/diamond/weavelet.toml")).unwrap();
    assert!(text.contains("rust = \"../../guests/diamond\""));
    manifest(dir, &text.replace("rust = \"../../guests/diamond\"", "path = \"{diamond}\""))
}

#[test]
fn the_demo_is_drawn_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let m = demo(dir.path());
    let m = m.to_str().unwrap();
    // Mermaid by default: every edge, named by the input it feeds.
    let text = stdout(&graph(dir.path(), &[m, "-q"]).success());
    assert!(text.starts_with("flowchart LR\n"), "{text}");
    for edge in [
        "p0 -->|\"count\"| n0",
        "n0 -->|\"readings\"| n1",
        "n0 -->|\"readings\"| n2",
        "n1 -->|\"total\"| n3",
        "n2 -->|\"spread\"| n3",
        "p1 -->|\"unit\"| n3",
    ] {
        assert!(text.contains(edge), "missing `{edge}` in\n{text}");
    }
    assert!(text.contains("p0([\"count = 1000\"])"), "{text}");
    assert!(text.contains("style n3 stroke-width:3px"), "the output is marked: {text}");
    // DOT.
    let text = stdout(&graph(dir.path(), &[m, "-q", "--format", "dot"]).success());
    assert!(text.starts_with("digraph \"sensor report\" {"), "{text}");
    assert!(text.contains("\"n1\" -> \"n3\" [label=\"total\"];"), "{text}");
    assert_eq!(text.matches(" -> ").count(), 6, "{text}");
    // JSON: the same graph as data.
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&graph(dir.path(), &[m, "-q", "--format", "json"]).success())).unwrap();
    let names: Vec<&str> =
        json["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["readings", "total", "spread", "report"], "{json}");
    assert_eq!(json["nodes"][3]["target"], true);
    assert_eq!(json["nodes"][3]["inputs"][0]["from"]["node"], "total", "{json}");
    assert_eq!(json["params"][0], serde_json::json!({ "name": "count", "value": "1000" }));
    assert_eq!(json["edges"].as_array().unwrap().len(), 6, "{json}");
    assert!(
        json["edges"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({ "from": { "param": "unit" }, "to": "report", "input": "unit" })),
        "{json}"
    );
    // SVG and PNG, by the file's extension.
    graph(dir.path(), &[m, "--file", "out/graph.svg"])
        .success()
        .stderr(predicates::str::contains("wrote out/graph.svg (4 nodes"));
    let svg = std::fs::read_to_string(dir.path().join("out/graph.svg")).unwrap();
    let doc = weavelet::Svg::parse(&svg).unwrap();
    for name in ["readings", "total", "spread", "report", "count = 1000"] {
        assert!(svg.contains(&format!(">{name}</text>")), "{name} is drawn");
    }
    // The drawing is Weavelet's own and stable: the reference picture, looked at.
    let reference = repo().join("examples/diamond/reference/graph.svg");
    assert_eq!(
        svg,
        std::fs::read_to_string(&reference).unwrap(),
        "the demo's graph changed: look at it, then refresh the reference with \
         `cargo run -p weavelet-cli -- graph examples/diamond --file examples/diamond/reference/graph.svg` \
         (and graph.png)"
    );
    graph(dir.path(), &[m, "-q", "--file", "graph.png"]).success();
    let png = std::fs::read(dir.path().join("graph.png")).unwrap();
    let image = weavelet::Image::decode(&png, "graph.png").unwrap();
    assert_eq!(image.width(), (doc.width() * 1.5).round() as u32);
    // What it cannot do, said.
    graph(dir.path(), &[m, "-q", "--file", "graph.txt"])
        .failure()
        .stderr(predicates::str::contains("cannot tell the format from graph.txt"));
}

const SCRIPT: &str = r#"
/// @input n int
fn numbers(n) { n }

fn doubled(numbers) { numbers * 2 }

/// @cache false
fn stamped(numbers) { numbers }

fn checked(doubled) { if doubled > 10 { throw "too big" } doubled }
"#;

#[test]
fn a_graph_is_coloured_by_a_dry_run_and_by_a_past_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rhai"), SCRIPT).unwrap();
    let dot = |args: &[&str]| {
        let mut all = vec!["p.rhai", "-q", "--format", "dot", "-p", "n=3"];
        all.extend_from_slice(args);
        stdout(&graph(dir.path(), &all).success())
    };
    let class = |text: &str, node: &str| -> String {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("label=\"{node}\\n")))
            .unwrap_or_else(|| panic!("{text}"));
        line.split("class=\"").nth(1).unwrap().split('"').next().unwrap().to_string()
    };
    let before = dot(&["--dry-run"]);
    assert_eq!(class(&before, "doubled"), "will-run", "{before}");
    assert!(before.contains("not in the cache"), "the reason is shown: {before}");
    run(dir.path(), &["p.rhai", "-p", "n=3"]).success();
    let after = dot(&["--dry-run"]);
    assert_eq!(class(&after, "doubled"), "cached", "{after}");
    assert_eq!(class(&after, "stamped"), "not-cacheable", "a node that says `@cache false`: {after}");
    let past = dot(&["--run", "last"]);
    assert_eq!(class(&past, "doubled"), "ran", "{past}");
    assert!(past.contains("ran · "), "durations are shown: {past}");
    // A failed run: the failing node is marked, with its error.
    run(dir.path(), &["p.rhai", "-p", "n=9"]).failure();
    let failed = dot(&["--run", "last"]);
    assert_eq!(class(&failed, "checked"), "failed", "{failed}");
    assert!(failed.contains("too big"), "{failed}");
    // Bad run numbers and runs of other pipelines are explained.
    graph(dir.path(), &["p.rhai", "-q", "-p", "n=3", "--run", "999"])
        .failure()
        .stderr(predicates::str::contains("no run 999"));
    std::fs::write(dir.path().join("other.rhai"), "fn alone() { 1 }\n").unwrap();
    graph(dir.path(), &["other.rhai", "-q", "--run", "last"])
        .failure()
        .stderr(predicates::str::contains("ran none of this pipeline's nodes"));
}

#[test]
fn five_hundred_nodes_are_drawn_within_the_picture_limits() {
    let dir = tempfile::tempdir().unwrap();
    // A layered DAG of 500 Rhai nodes, each reading 1 to 3 of the 40 before it.
    let mut script = String::from("/// @input n int\nfn s0(n) { n }\n");
    let mut seed = 11u64;
    for i in 1..500usize {
        let mut deps = Vec::new();
        for _ in 0..3 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let d = i.saturating_sub(1 + (seed >> 33) as usize % 40.min(i));
            if !deps.contains(&d) {
                deps.push(d);
            }
            if seed.is_multiple_of(3) {
                break;
            }
        }
        let args: Vec<String> = deps.iter().map(|d| format!("s{d}")).collect();
        script.push_str(&format!("fn s{i}({}) {{ {} }}\n", args.join(", "), args.join(" + ")));
    }
    std::fs::write(dir.path().join("big.rhai"), script).unwrap();
    graph(dir.path(), &["big.rhai", "-q", "-p", "n=1", "--file", "big.svg"]).success();
    let svg = std::fs::read_to_string(dir.path().join("big.svg")).unwrap();
    let doc = weavelet::Svg::parse(&svg).unwrap();
    for i in 0..500 {
        assert!(svg.contains(&format!(">s{i}</text>")), "s{i} is drawn");
    }
    assert!(doc.width() <= 100_000.0 && doc.height() <= 100_000.0);
    graph(dir.path(), &["big.rhai", "-q", "-p", "n=1", "--file", "big.png"]).success();
    let image =
        weavelet::Image::decode(&std::fs::read(dir.path().join("big.png")).unwrap(), "big.png").unwrap();
    assert!(image.width().max(image.height()) <= 8000, "{} x {}", image.width(), image.height());
}
