//! Nodes in every language Weavelet builds: C, Python and JavaScript beside
//! Rust and Rhai, built from their folders by the real CLI, running in one
//! pipeline and exchanging tables and SVG.
//!
//! The C, Python and JavaScript toolchains are large and installed apart
//! (`.ci/run` installs them; the README says how). Without one, its tests say
//! so and skip — except under `CI=true`, where a missing toolchain fails the
//! test: CI always covers every language.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::weavelet_cmd;

#[derive(Clone, Copy, Debug)]
enum Tool {
    C,
    Python,
    Js,
}

fn repo() -> PathBuf {
    crate::common::repo().canonicalize().unwrap()
}

/// Does `program --version` run?
fn runs(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// What is missing for `tool`, if anything.
fn missing(tool: Tool) -> Option<String> {
    match tool {
        Tool::C => {
            let cc = std::env::var("CC").ok().filter(|c| !c.is_empty()).unwrap_or_else(|| "clang-16".into());
            let wit_bindgen = std::env::var("WIT_BINDGEN").unwrap_or_else(|_| "wit-bindgen".into());
            if !runs(&cc) {
                Some(format!("{cc} (apt-get install clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32)"))
            } else if !Path::new("/usr/include/wasm32-wasi/stdio.h").is_file() {
                Some("wasi-libc (apt-get install wasi-libc)".into())
            } else if !runs(&wit_bindgen) {
                Some("wit-bindgen (cargo install --locked wit-bindgen-cli --version 0.61.1 --no-default-features --features c)".into())
            } else {
                None
            }
        }
        Tool::Python => {
            let tool = std::env::var("COMPONENTIZE_PY").unwrap_or_else(|_| "componentize-py".into());
            (!runs(&tool)).then(|| "componentize-py (pip install componentize-py==0.25.1)".into())
        }
        Tool::Js => (!repo().join("guests/js/node_modules/.bin/jco").is_file())
            .then(|| "jco in guests/js (cd guests/js && npm ci)".into()),
    }
}

/// True when every tool is there. Otherwise the test is skipped with a
/// message, or fails under CI.
fn have(tools: &[Tool]) -> bool {
    let absent: Vec<String> = tools.iter().filter_map(|t| missing(*t)).collect();
    if absent.is_empty() {
        return true;
    }
    let what = absent.join("; ");
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("CI must run every language's tests, but these toolchains are missing: {what}");
    }
    eprintln!("SKIPPED: toolchains missing: {what}. `.ci/run` installs them; see the README.");
    false
}

/// Revenue per region computed here, from the CSV, independently of every node.
fn expected_totals(orders_csv: &Path, since: &str, tax: f64) -> BTreeMap<String, (f64, i64)> {
    let text = std::fs::read_to_string(orders_csv).unwrap();
    let mut totals: BTreeMap<String, (f64, i64)> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (date, region, quantity, price) = (f[0], f[1], f[3], f[4]);
        let quantity: i64 = quantity.parse().unwrap();
        let Ok(price) = price.parse::<f64>() else { continue };
        if quantity <= 0 || date < since {
            continue;
        }
        let revenue = (quantity as f64 * price * (1.0 + tax) * 100.0).round() / 100.0;
        let entry = totals.entry(region.to_string()).or_default();
        entry.0 += revenue;
        entry.1 += 1;
    }
    totals
}

#[test]
fn the_polyglot_report_runs_a_node_of_every_language_in_one_pipeline() {
    if !have(&[Tool::C, Tool::Python, Tool::Js]) {
        return;
    }
    let example = repo().join("examples/polyglot");
    let out = example.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let run = weavelet_cmd().arg("run").arg(&example).arg("--output").arg("report").assert().success();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    for node in
        ["orders", "revenue", "region_totals", "region_chart", "region_shares", "revenue_card", "report"]
    {
        assert!(stderr.contains(&format!("finished {node} ")), "{node} did not run:\n{stderr}");
    }

    // Python's totals over C's revenue over Rust's orders, checked against the CSV.
    let csv = std::fs::read_to_string(out.join("region_totals.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col =
        |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("{name}: {header:?}"));
    let expected = expected_totals(&example.join("data/orders.csv"), "2026-02-01", 0.2);
    let mut seen = 0;
    let mut last = f64::INFINITY;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let (region, revenue, orders) = (f[col("region")], f[col("revenue")], f[col("orders")]);
        let revenue: f64 = revenue.parse().unwrap();
        let (want_revenue, want_orders) = expected[region];
        assert!((revenue - want_revenue).abs() < 0.005, "{region}: {revenue} != {want_revenue}");
        assert_eq!(orders.parse::<i64>().unwrap(), want_orders, "{region}");
        assert!(revenue <= last, "largest revenue first");
        last = revenue;
        seen += 1;
    }
    assert_eq!(seen, expected.len(), "one row per region");

    // The page carries every language's part: Rhai's card and page, JS's chart, Python's shares.
    let svg = std::fs::read_to_string(out.join("report.svg")).unwrap();
    for part in [
        "Orders by region since 2026-02-01",
        "Revenue incl. tax (USD)",
        "Revenue by region (USD, incl. tax)",
        "Share of revenue",
    ] {
        assert!(svg.contains(part), "report.svg lacks {part:?}");
    }
    let png = std::fs::read(out.join("report.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "report.png is a PNG");
}

/// `weavelet build FOLDER`, then `weavelet inspect FOLDER --json`: its nodes.
fn declarations(folder: &str) -> serde_json::Value {
    let built = weavelet_cmd().arg("build").arg(repo().join(folder)).arg("--json").assert().success();
    let built: serde_json::Value = serde_json::from_slice(&built.get_output().stdout).unwrap();
    crate::common::schema::assert_matches("build", &built);
    let component = std::path::Path::new(built["component"].as_str().unwrap());
    assert_eq!(built["bytes"].as_u64(), Some(std::fs::metadata(component).unwrap().len()), "{built}");
    assert_eq!(built["sha256"].as_str().unwrap().len(), 64, "{built}");
    assert!(["c", "python", "js", "rust"].contains(&built["language"].as_str().unwrap()), "{built}");
    assert!(!built["nodes"].as_array().unwrap().is_empty(), "{built}");
    let out = weavelet_cmd().arg("inspect").arg(repo().join(folder)).arg("--json").assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

/// `name(input: type [columns], ...) -> output` of one declared node.
fn signature(doc: &serde_json::Value, node: &str) -> String {
    let nodes = doc["nodes"].as_array().unwrap();
    let n = nodes.iter().find(|n| n["name"] == node).unwrap_or_else(|| panic!("no node {node} in {doc}"));
    let inputs: Vec<String> = n["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let columns: Vec<String> = i["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| format!("{} {}", c["name"].as_str().unwrap(), c["dtype"].as_str().unwrap()))
                .collect();
            let optional = if i["optional"] == true { "?" } else { "" };
            let columns =
                if columns.is_empty() { String::new() } else { format!(" [{}]", columns.join(", ")) };
            format!("{}: {}{optional}{columns}", i["name"].as_str().unwrap(), i["type"].as_str().unwrap())
        })
        .collect();
    format!("{node}({}) -> {}", inputs.join(", "), n["output"].as_str().unwrap())
}

#[test]
fn c_declarations_come_from_the_node_macros() {
    if !have(&[Tool::C]) {
        return;
    }
    let doc = declarations("guests/c");
    assert_eq!(signature(&doc, "inc_c"), "inc_c(x: int) -> int");
    assert_eq!(
        signature(&doc, "revenue"),
        "revenue(orders: table [quantity number, unit_price number], tax_rate: float) -> table"
    );
    assert_eq!(signature(&doc, "badge"), "badge(label: text, value: float) -> svg");
}

#[test]
fn python_declarations_come_from_the_function_signatures() {
    if !have(&[Tool::Python]) {
        return;
    }
    let doc = declarations("guests/python");
    assert_eq!(signature(&doc, "inc_py"), "inc_py(x: int) -> int");
    assert_eq!(
        signature(&doc, "region_totals"),
        "region_totals(revenue: table [region text, revenue number, quantity number]) -> table"
    );
    assert_eq!(
        signature(&doc, "region_shares"),
        "region_shares(region_totals: table [region text, revenue number], shares_title: text?) -> svg"
    );
    let totals = doc["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "region_totals").unwrap();
    assert!(totals["doc"].as_str().unwrap().contains("per region"), "the docstring is the doc: {totals}");
}

#[test]
fn javascript_declarations_come_from_the_parameter_lists() {
    if !have(&[Tool::Js]) {
        return;
    }
    let doc = declarations("guests/js");
    assert_eq!(signature(&doc, "inc_js"), "inc_js(x: int) -> int");
    assert_eq!(
        signature(&doc, "region_chart"),
        "region_chart(region_totals: table [region text, revenue number], title: text) -> svg"
    );
    assert_eq!(
        signature(&doc, "top_regions"),
        "top_regions(region_totals: table [region text, revenue number], top: int) -> table"
    );
}

/// A pipeline in a temporary folder over the guests of `tools`.
fn pipeline_of(dir: &Path, components: &str, rest: &str) {
    let text = format!("{components}\n{rest}");
    std::fs::write(dir.join("weavelet.toml"), text).unwrap();
}

fn component_entry(tool: Tool) -> String {
    let (key, folder) = match tool {
        Tool::C => ("c", "guests/c"),
        Tool::Python => ("python", "guests/python"),
        Tool::Js => ("js", "guests/js"),
    };
    format!("[[components]]\n{key} = {:?}\n", repo().join(folder).display().to_string())
}

#[test]
fn errors_raised_in_each_language_reach_the_user_naming_the_node() {
    let tools: Vec<Tool> = [Tool::C, Tool::Python, Tool::Js].into_iter().filter(|t| have(&[*t])).collect();
    if tools.is_empty() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/zero.csv"), "region,revenue\nNorth,0.0\nSouth,0.0\n").unwrap();
    std::fs::write(
        dir.path().join("zero.rhai"),
        "/// A table whose revenue adds up to nothing.\nfn zero_totals() { read_table(\"data/zero.csv\") }\n",
    )
    .unwrap();
    let mut rest = String::from(
        "[[scripts]]\npath = \"zero.rhai\"\n\n[params]\nx = -3\ntop = 0\n\n[policy]\nread = [\"data\"]\n",
    );
    let mut outputs = Vec::new();
    for tool in &tools {
        match tool {
            Tool::C => outputs.push("inc_c"),
            Tool::Python => {
                rest.push_str("\n[nodes.zero_shares]\nuse = \"region_shares\"\ninputs = { region_totals = \"zero_totals\" }\n");
                outputs.extend(["inc_py", "zero_shares"]);
            }
            Tool::Js => {
                rest.push_str("\n[nodes.zero_top]\nuse = \"top_regions\"\ninputs = { region_totals = \"zero_totals\" }\n");
                outputs.extend(["inc_js", "zero_top"]);
            }
        }
    }
    let components: String = tools.iter().map(|t| component_entry(*t)).collect();
    pipeline_of(dir.path(), &components, &rest);
    let mut cmd = weavelet_cmd();
    cmd.arg("run").arg(dir.path());
    for o in outputs {
        cmd.args(["--output", o]);
    }
    let out = cmd.assert();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert_eq!(out.get_output().status.code(), Some(1), "{stderr}");
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    for tool in &tools {
        let (inc, extra): (&str, Option<&str>) = match tool {
            Tool::C => ("inc_c", None),
            // An exception the node did not expect: its type and message.
            Tool::Python => ("inc_py", Some("node `zero_shares` (")),
            Tool::Js => ("inc_js", Some("node `zero_top` (")),
        };
        let expected = format!("node `{inc}` (");
        let line =
            stderr.lines().find(|l| l.contains(&expected)).unwrap_or_else(|| panic!("{inc}:\n{stderr}"));
        assert!(line.contains("failed on input `x`: x must not be negative (got -3)"), "{line}");
        if let Some(extra) = extra {
            let line =
                stderr.lines().find(|l| l.contains(extra)).unwrap_or_else(|| panic!("{extra}:\n{stderr}"));
            match tool {
                Tool::Python => assert!(line.contains("ValueError: total revenue is 0"), "{line}"),
                _ => {
                    assert!(line.contains("failed on input `top`: top must be at least 1 (got 0)"), "{line}")
                }
            }
        }
    }
}

/// `weavelet new` in a temporary folder, then `weavelet run` of what it made.
fn scaffold_runs(lang: &str, prepare: impl Fn(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let made_at = dir.path().join("elsewhere").join(format!("hello-{lang}"));
    let made = weavelet_cmd().arg("new").arg(&made_at).args(["--lang", lang]).assert().success();
    let said = String::from_utf8_lossy(&made.get_output().stdout).into_owned();
    assert!(said.contains("weavelet.toml") && said.contains("next:"), "{said}");
    // A project holds no path of where it was made, or of this checkout: moved, it builds.
    let project = dir.path().join(format!("hello-{lang}"));
    std::fs::rename(&made_at, &project).unwrap();
    for file in walk(&project) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let here = repo().display().to_string();
        assert!(
            !text.contains(&here) && !text.contains("elsewhere"),
            "{} names a path: {text}",
            file.display()
        );
    }
    prepare(&project);
    let run = weavelet_cmd().current_dir(&project).args(["run", "."]).assert().success();
    let stdout = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    assert!(stdout.contains("loud: HELLO, WORLD!"), "{lang}: {stdout}");
    // Its errors name the node, as every node's do.
    let run = weavelet_cmd().current_dir(&project).args(["run", ".", "--param", "name="]).assert().code(1);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(
        stderr.contains("node `greeting`") && stderr.contains("name must not be empty"),
        "{lang}: {stderr}"
    );
    // A second scaffold into the same folder is refused, nothing overwritten.
    let manifest = project.join("weavelet.toml");
    std::fs::write(&manifest, std::fs::read_to_string(&manifest).unwrap() + "# edited\n").unwrap();
    let again = weavelet_cmd().arg("new").arg(&project).args(["--lang", lang]).assert().code(2);
    assert!(String::from_utf8_lossy(&again.get_output().stderr).contains("already exists"));
    assert!(std::fs::read_to_string(&manifest).unwrap().ends_with("# edited\n"), "{lang}: overwritten");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn a_rust_scaffold_builds_and_runs_as_made() {
    scaffold_runs("rust", |_| {});
}

#[test]
fn a_rhai_scaffold_runs_as_made() {
    scaffold_runs("rhai", |_| {});
}

#[test]
fn a_c_scaffold_builds_and_runs_as_made() {
    if have(&[Tool::C]) {
        scaffold_runs("c", |_| {});
    }
}

#[test]
fn a_python_scaffold_builds_and_runs_as_made() {
    if have(&[Tool::Python]) {
        scaffold_runs("python", |_| {});
    }
}

#[test]
fn a_javascript_scaffold_builds_and_runs_as_made() {
    if !have(&[Tool::Js]) {
        return;
    }
    scaffold_runs("js", |project| {
        // As its next steps say: npm installs the pinned tools from the lock file.
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(project)
            .status()
            .unwrap();
        assert!(status.success(), "npm ci in the scaffold");
    });
}

#[test]
fn a_project_name_that_cannot_name_a_package_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        weavelet_cmd().arg("new").arg(dir.path().join("Bad Name")).args(["--lang", "rust"]).assert().code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("cannot name a project"), "{stderr}");
    assert!(!dir.path().join("Bad Name").exists(), "nothing made");
}

#[test]
fn a_folder_whose_toolchain_is_missing_says_what_to_install() {
    // An empty PATH: no compiler, no componentize-py, no jco.
    let dir = tempfile::tempdir().unwrap();
    for (lang, file, tool) in
        [("c", "nodes.c", "clang-16"), ("python", "nodes.py", "componentize-py"), ("js", "nodes.js", "jco")]
    {
        let project = dir.path().join(lang);
        std::fs::create_dir(&project).unwrap();
        std::fs::write(project.join(file), "").unwrap();
        std::fs::write(project.join("weavelet.toml"), format!("[[components]]\n{lang} = \".\"\n")).unwrap();
        let out = weavelet_cmd()
            .args(["run"])
            .arg(&project)
            .env("PATH", "")
            .env_remove("CC")
            .env_remove("COMPONENTIZE_PY")
            .env_remove("JCO")
            .env_remove("WIT_BINDGEN")
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        let first_tool = if lang == "c" { "wit-bindgen" } else { tool };
        assert!(stderr.contains(&format!("needs `{first_tool}`")), "{lang}: {stderr}");
        assert!(stderr.contains("Install"), "{lang}: says how to install: {stderr}");
    }
}

#[test]
fn the_python_sdk_passes_its_own_tests() {
    if !have(&[Tool::Python]) {
        return;
    }
    let out = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s", "sdk/python", "-p", "test_*.py"])
        .current_dir(repo())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.contains("OK"), "{said}");
}

#[test]
fn the_javascript_sdk_passes_its_own_tests() {
    if !have(&[Tool::Js]) {
        return;
    }
    let out = Command::new("node")
        .args(["--import", "./test/register.js", "--test", "test/weavelet.test.js"])
        .current_dir(repo().join("sdk/js"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("# fail 0"),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_node_folder_is_built_again_when_its_code_changes_and_only_then() {
    if !have(&[Tool::C]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let project = dir.path().join("nodes");
    std::fs::create_dir(&project).unwrap();
    let source = std::fs::read_to_string(repo().join("guests/c/nodes.c")).unwrap();
    std::fs::write(project.join("nodes.c"), &source).unwrap();
    std::fs::write(project.join("weavelet.toml"), "[[components]]\nc = \".\"\n\n[params]\nx = 41\n").unwrap();
    let run = |expect: &str| {
        let out = weavelet_cmd()
            .env("WEAVELET_CACHE_DIR", &cache)
            .arg("run")
            .arg(&project)
            .args(["--output", "inc_c"])
            .assert()
            .success();
        let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(stdout.contains(expect), "{stdout}");
        String::from_utf8_lossy(&out.get_output().stderr).contains("building ")
    };
    assert!(run("inc_c: 42"), "the first run builds the folder");
    assert!(!run("inc_c: 42"), "nothing changed: no build");
    // The pipeline's own file and data are not the nodes' code.
    std::fs::write(project.join("weavelet.toml"), "[[components]]\nc = \".\"\n\n[params]\nx = 1\n").unwrap();
    assert!(!run("inc_c: 2"), "a parameter changed: no build");
    std::fs::write(
        project.join("nodes.c"),
        source.replace("wv_return_int(call, x + 1)", "wv_return_int(call, x + 2)"),
    )
    .unwrap();
    assert!(run("inc_c: 3"), "the code changed: built again, and the new code runs");
}

#[test]
fn a_components_entry_names_one_node_folder_that_holds_its_language() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weavelet.toml"), "[[components]]\nc = \"nodes\"\n").unwrap();
    let out = weavelet_cmd().arg("run").arg(dir.path()).assert().code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("is not a C node folder (it holds no nodes.c)"), "{stderr}");
    assert!(stderr.contains("weavelet new NAME --lang c"), "{stderr}");

    std::fs::write(dir.path().join("weavelet.toml"), "[[components]]\nc = \"nodes\"\npython = \"nodes\"\n")
        .unwrap();
    let out = weavelet_cmd().arg("run").arg(dir.path()).assert().code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("needs exactly one of `path`"), "{stderr}");
}
