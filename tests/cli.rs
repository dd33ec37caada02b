//! The `weavelet` binary end to end: real manifests, real components.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::*;
use assert_cmd::Command;
use predicates::prelude::*;

fn weavelet(cache: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weavelet"));
    cmd.env("WEAVELET_CACHE_DIR", cache).env_remove("CARGO_TARGET_DIR");
    cmd
}

const DIAMOND: &str = r#"
[pipeline]
name = "diamond test"

[[components]]
path = "{diamond}"

[params]
count = 10
"#;

#[test]
fn runs_a_pipeline_and_prints_its_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), DIAMOND);
    weavelet(dir.path())
        .args(["run"])
        .arg(&m)
        .assert()
        .success()
        .stdout("report: total 223.01, range 20.00 .. 24.55\n")
        .stderr(predicate::str::contains("running diamond test (4 nodes"))
        .stderr(predicate::str::contains("started  readings"))
        .stderr(predicate::str::contains("finished report in"))
        .stderr(predicate::str::contains("log      report info: reporting on a spread of 4.55"));
}

#[test]
fn params_and_outputs_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    manifest(dir.path(), DIAMOND);
    // A folder holding weavelet.toml is a pipeline too.
    weavelet(dir.path())
        .args([
            "run", "--param", "count=4", "-p", "unit= K", "--output", "spread", "--output", "total", "-j",
            "1",
        ])
        .arg(dir.path())
        .assert()
        .success()
        .stdout("spread: [20, 21.56]\ntotal: 83.11999999999999\n");
}

#[test]
fn a_node_to_compute_is_a_target_and_its_earlier_spellings_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), DIAMOND);
    for flag in ["--target", "-t", "--output", "-o"] {
        weavelet(dir.path())
            .arg("run")
            .arg(&m)
            .args([flag, "total"])
            .assert()
            .success()
            .stdout("total: 223.01\n");
    }
    // In the manifest: `targets`, and `outputs` as before.
    for key in ["targets", "outputs"] {
        let m = manifest(
            dir.path(),
            &DIAMOND.replace("name = \"diamond test\"", &format!("{key} = [\"spread\"]")),
        );
        weavelet(dir.path()).arg("run").arg(&m).assert().success().stdout("spread: [20, 24.55]\n");
    }
    // `-o` is a file wherever a file is written.
    weavelet(dir.path())
        .args(["report", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("-o, --output <FILE>"));
}

#[test]
fn plan_errors_are_diagnostics_with_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), DIAMOND);
    weavelet(dir.path())
        .args(["run", "--param", "count=ten", "--output", "reprot"])
        .arg(&m)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("error: the pipeline cannot run:\n- no node is named `reprot`, so it cannot be an output\n  help: did you mean `report`?"));
    weavelet(dir.path())
        .args(["run", "--param", "count=ten"])
        .arg(&m)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("parameter `count`: `ten` is not an int, but input `count` of node `readings` expects int\n  help: pass --param count=<int>"));
}

#[test]
fn failed_nodes_exit_1_and_independent_outputs_still_print() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        r#"
[pipeline]
outputs = ["after_trap", "independent"]

[[components]]
path = "{fixtures}"

[params]
x = 3
"#,
    );
    weavelet(dir.path())
        .args(["run"])
        .arg(&m)
        .assert()
        .code(1)
        .stdout("independent: 30\n")
        .stderr(predicate::str::contains("failed   traps: node `traps` (fixture_nodes.wasm) trapped"))
        .stderr(predicate::str::contains("skipped  after_trap (upstream `traps` failed)"))
        .stderr(predicate::str::contains("error: 1 node failed:"))
        .stderr(predicate::str::contains("not run because of those failures: after_trap"));
}

#[test]
fn aliases_and_cycles_in_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        r#"
[[components]]
path = "{fixtures}"

[nodes.a]
use = "inc"
inputs = { x = "b" }

[nodes.b]
use = "inc"
inputs = { x = "a" }
"#,
    );
    weavelet(dir.path())
        .args(["run", "--output", "b"])
        .arg(&m)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("dependency cycle: a → b → a"));
}

#[test]
fn manifest_syntax_errors_point_at_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), "[[components]]\npath = \"{diamond}\"\n\n[params]\ncount = ten\n");
    weavelet(dir.path())
        .args(["run"])
        .arg(&m)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("weavelet.toml: line 5, column 9:"))
        .stderr(predicate::str::contains("5 | count = ten\n  |         ^"));
    let m = manifest(dir.path(), "[[compnents]]\npath = \"x.wasm\"\n");
    weavelet(dir.path())
        .args(["run"])
        .arg(&m)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown field `compnents`"));
}

#[test]
fn a_missing_pipeline_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    weavelet(dir.path())
        .args(["run"])
        .arg(dir.path().join("nope"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope does not exist"));
    weavelet(dir.path())
        .args(["run"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("holds no weavelet.toml"));
}

#[test]
fn inspect_shows_declarations() {
    let dir = tempfile::tempdir().unwrap();
    weavelet(dir.path())
        .args(["inspect", DIAMOND_NODES])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "node report(total: float, spread: float-list, unit: text?) -> text",
        ))
        .stdout(predicate::str::contains(
            "    A one-line report of the total and the spread, in `unit` (optional).",
        ))
        .stdout(predicate::str::contains("sha256  "))
        .stdout(predicate::str::contains(
            "runs in a confined worker process per node (isolation = \"process\"",
        ))
        .stdout(predicate::str::contains("imports\n  weavelet:node/host@0.4.0"))
        .stdout(predicate::str::contains("WASI environment: empty"));
    let out = weavelet(dir.path()).args(["inspect", "--json", FIXTURE_NODES]).output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::common::schema::assert_matches("inspect-component", &doc);
    let inc = doc["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "inc").unwrap();
    assert_eq!(
        inc["inputs"][0],
        serde_json::json!({ "name": "x", "type": "int", "optional": false, "columns": [] })
    );
    assert_eq!(inc["output"], "int");
    assert!(doc["imports"].as_array().unwrap().iter().any(|i| i == "weavelet:node/host@0.4.0"));
    assert_eq!(doc["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(doc["isolation"], "process");
}

/// The examples as the README runs them, with their Rust crate swapped for the
/// prebuilt component (so the test does not run cargo).
fn example(name: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let src = crate::common::repo().join("examples").join(name);
    // The files (not `reference/`, the pictures to compare with).
    for entry in std::fs::read_dir(&src).unwrap().flatten().filter(|e| e.path().is_file()) {
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(dir.join("weavelet.toml")).unwrap();
    assert!(text.contains("rust = \"../../guests/diamond\""));
    manifest(dir, &text.replace("rust = \"../../guests/diamond\"", "path = \"{diamond}\""))
}

#[test]
fn the_demo_example_runs() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("diamond", dir.path());
    weavelet(dir.path())
        .args(["run", "-q"])
        .arg(&m)
        .assert()
        .success()
        .stdout("report: total 22309.95 °C, range 20.00 °C .. 24.62 °C\n");
}

#[test]
fn the_mixed_example_runs() {
    let dir = tempfile::tempdir().unwrap();
    let m = example("mixed", dir.path());
    weavelet(dir.path())
        .args(["run"])
        .arg(&m)
        .assert()
        .success()
        .stdout("summary: total 11154.94, calibrated range 19.75 .. 24.37, 59.2% above 22.0\n")
        .stderr(predicate::str::contains("running mixed report (7 nodes"));
}

#[test]
fn the_rhai_example_runs() {
    let dir = tempfile::tempdir().unwrap();
    let script = crate::common::repo().join("examples/rhai/report.rhai");
    weavelet(dir.path())
        .args(["run", "--param", "n=6"])
        .arg(&script)
        .assert()
        .success()
        .stdout("report: sum 91, mean 15.166666666666666, even: [4, 16, 36]\n");
}

#[test]
fn a_parameter_no_node_reads_is_a_warning_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), DIAMOND);
    weavelet(dir.path()).args(["run", "-q", "--param", "unti=K"]).arg(&m).assert().success().stderr(
        predicate::str::contains(
            "warning: parameter `unti` is not an input of any node\nhelp: did you mean `unit`?",
        ),
    );
}

#[test]
fn a_run_whose_stderr_is_closed_still_ends() {
    // `weavelet run … 2>&1 | head -1`: the reader goes away after one line. A
    // status line that cannot be written is lost; the run must still end.
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let busy = "let x = 0; for i in 0..300000 { x += 1; }";
    std::fs::write(
        dir.path().join("s.rhai"),
        format!("fn a() {{ {busy} 1 }}\nfn b(a) {{ {busy} a + 1 }}\nfn c(b) {{ {busy} b + 1 }}\n"),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_weavelet"))
        .args(["run", "s.rhai", "--no-cache"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("running s"), "{first}");
    // The reader is gone now; the nodes are still running.
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("the run hung after its stderr was closed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.code().is_some(), "{status:?}");
}

/// An HTTP server on 127.0.0.1 answering every request with `body` (which
/// the test may change), counting the requests.
struct Served {
    base: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    body: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

/// An HTTP server on 127.0.0.1 that reads each request's head and hands the
/// connection to `answer`; its base URL.
fn serve_with(answer: impl Fn(std::net::TcpStream) + Send + 'static) -> String {
    use std::io::BufRead;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = std::io::BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            answer(reader.into_inner());
        }
    });
    base
}

fn serve(body: Vec<u8>) -> Served {
    use std::io::Write;
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let body = std::sync::Arc::new(std::sync::Mutex::new(body));
    let (counted, served) = (hits.clone(), body.clone());
    let base = serve_with(move |mut stream| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let body = served.lock().unwrap().clone();
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
        let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
    });
    Served { base, hits, body }
}

#[test]
fn a_component_by_url_is_fetched_once_checked_against_its_digest_and_kept() {
    let wasm = std::fs::read(DIAMOND_NODES).unwrap();
    let digest = weavelet::key::hex(&weavelet::key::sha256(&wasm));
    let server = serve(wasm);
    let dir = tempfile::tempdir().unwrap();
    let pinned = |url: &str, digest: &str| {
        format!(
            "[pipeline]\nname = \"fetched\"\n[[components]]\nurl = \"{url}\"\nsha256 = \"{digest}\"\n[params]\ncount = 10\n"
        )
    };
    let url = format!("{}/diamond.wasm", server.base);
    manifest(dir.path(), &pinned(&url, &digest));
    let run = |cache: &std::path::Path| weavelet(cache).arg("run").arg(dir.path()).assert();
    run(&dir.path().join("cache"))
        .success()
        .stdout("report: total 223.01, range 20.00 .. 24.55\n")
        .stderr(predicate::str::contains(format!("fetching {url}")));
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Kept by its digest: the next run reaches no server.
    run(&dir.path().join("cache"))
        .success()
        .stdout("report: total 223.01, range 20.00 .. 24.55\n")
        .stderr(predicate::str::contains("fetching").not());
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), 1, "fetched again");

    // The server now serves another component under the pinned digest: refused,
    // both digests named, nothing kept.
    let other = std::fs::read(FIXTURE_NODES).unwrap();
    let other_digest = weavelet::key::hex(&weavelet::key::sha256(&other));
    *server.body.lock().unwrap() = other;
    let fresh = dir.path().join("fresh-cache");
    let refused = |says: &str| {
        run(&fresh).code(2).stdout("").stderr(predicate::str::contains(says));
    };
    refused(&format!("its SHA-256 is {other_digest}, the manifest's `sha256` is {digest}"));
    let kept = std::fs::read_dir(fresh.join("downloads")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(kept, 0, "a component that failed its digest was kept");

    // Not pinned, or pinned with something that is not a digest: refused before any fetch.
    let hits = server.hits.load(std::sync::atomic::Ordering::SeqCst);
    manifest(dir.path(), &format!("[[components]]\nurl = \"{url}\"\n"));
    refused("must be pinned by its digest: add `sha256");
    manifest(dir.path(), &pinned(&url, "abc"));
    refused("`sha256` is 64 hexadecimal digits");
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), hits);

    // A local file pinned by a digest it does not have is refused too.
    manifest(dir.path(), &format!("[[components]]\npath = \"{{fixtures}}\"\nsha256 = \"{digest}\"\n"));
    refused(&format!("its SHA-256 is {other_digest}, `sha256` says {digest}"));
}

#[test]
fn weavelet_add_shows_the_review_and_pins_only_on_confirmation() {
    let wasm = std::fs::read(DIAMOND_NODES).unwrap();
    let digest = weavelet::key::hex(&weavelet::key::sha256(&wasm));
    let server = serve(wasm);
    let url = format!("{}/diamond.wasm", server.base);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let before = "[pipeline]\nname = \"added\"\n\n[params]\ncount = 10\n";
    let m = manifest(dir.path(), before);
    let add = || {
        let mut cmd = weavelet(&cache);
        cmd.arg("add").arg(&url).arg("--to").arg(dir.path());
        cmd
    };
    // Not a terminal and no --yes: the review is shown, nothing is written.
    add()
        .write_stdin("y\n")
        .assert()
        .code(2)
        .stdout(predicate::str::contains(format!("sha256  {digest}")))
        .stdout(predicate::str::contains("node report("))
        .stderr(predicate::str::contains("pass --yes once you have reviewed"));
    assert_eq!(std::fs::read_to_string(&m).unwrap(), before);
    // `weavelet inspect URL` reviews it too, without touching the pipeline.
    weavelet(&cache)
        .args(["inspect", &url])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("sha256  {digest}")))
        .stdout(predicate::str::contains("node report("));
    assert_eq!(std::fs::read_to_string(&m).unwrap(), before);
    // A digest the publisher lists that the file does not have: refused.
    add()
        .args(["--yes", "--sha256", &"0".repeat(64)])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("its SHA-256 is {digest}")));
    assert_eq!(std::fs::read_to_string(&m).unwrap(), before);
    // Confirmed: pinned to what was reviewed, the rest of the file as it was.
    add()
        .arg("--yes")
        .assert()
        .success()
        .stderr(predicate::str::contains(format!("pinned to SHA-256 {digest}")));
    let after = std::fs::read_to_string(&m).unwrap();
    assert!(after.starts_with(before), "{after}");
    assert!(after.contains(&format!("url = \"{url}\"\nsha256 = \"{digest}\"\n")), "{after}");
    weavelet(&cache)
        .arg("run")
        .arg(dir.path())
        .assert()
        .success()
        .stdout("report: total 223.01, range 20.00 .. 24.55\n");
    // Added twice: refused, the file unchanged.
    add().arg("--yes").assert().code(2).stderr(predicate::str::contains("already lists"));
    assert_eq!(std::fs::read_to_string(&m).unwrap(), after);

    // The lock holds what was reviewed: a manifest pinning another digest is refused
    // before anything is fetched, naming both.
    let lock = std::fs::read_to_string(dir.path().join("weavelet.lock")).unwrap();
    assert!(lock.contains(&format!("url = \"{url}\"\nsha256 = \"{digest}\"\n")), "{lock}");
    assert!(
        lock.contains("nodes = [\"readings\", \"total\", \"spread\", \"report\"]\nrequests = []"),
        "{lock}"
    );
    let other = "ab".repeat(32);
    std::fs::write(&m, after.replace(&digest, &other)).unwrap();
    let hits = server.hits.load(std::sync::atomic::Ordering::SeqCst);
    weavelet(&cache)
        .arg("run")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("the manifest and its lock disagree"))
        .stderr(predicate::str::contains(format!("pins it to SHA-256 {digest}, the manifest to {other}")));
    // A url component the lock does not list is refused too.
    std::fs::write(&m, format!("{after}\n[[components]]\nurl = \"{url}?v=2\"\nsha256 = \"{digest}\"\n"))
        .unwrap();
    weavelet(&cache)
        .arg("run")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("weavelet.lock does not list this component"));
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), hits);
}

#[test]
fn a_download_longer_than_the_largest_component_is_stopped_while_it_arrives() {
    use std::io::Write;
    // A server that names no length and never stops sending.
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = sent.clone();
    let base = serve_with(move |mut stream| {
        let chunk = vec![0u8; 1 << 20];
        if stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").is_err() {
            return;
        }
        while stream.write_all(&chunk).is_ok() {
            counted.fetch_add(chunk.len(), std::sync::atomic::Ordering::SeqCst);
        }
    });
    let url = format!("{base}/endless.wasm");
    let dir = tempfile::tempdir().unwrap();
    manifest(dir.path(), &format!("[[components]]\nurl = \"{url}\"\nsha256 = \"{}\"\n", "0".repeat(64)));
    let cache = dir.path().join("cache");
    weavelet(&cache)
        .arg("run")
        .arg(dir.path())
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("longer than the largest component accepted (64.0 MiB)"));
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(sent < 80 << 20, "the server sent {sent} bytes before the download stopped");
    assert_eq!(std::fs::read_dir(cache.join("downloads")).map(|d| d.count()).unwrap_or(0), 0);
}

#[test]
fn a_pipeline_that_lists_trusted_keys_runs_only_components_they_signed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let w = || weavelet(&cache);
    let wasm = dir.path().join("nodes.wasm");
    std::fs::copy(DIAMOND_NODES, &wasm).unwrap();
    w().args(["keygen", "--name", "author", "--dir"]).arg(dir.path()).assert().success();
    let pipeline = |keys: &str| {
        format!(
            "[[components]]\npath = \"nodes.wasm\"\n{keys}\n[params]\ncount = 10\n[trust]\nkeys = [\"author.pub\"]\n"
        )
    };
    manifest(dir.path(), &pipeline(""));
    let run = || w().arg("run").arg(dir.path()).assert();
    // Unsigned: refused before it is loaded, pointing at the entry.
    run()
        .code(2)
        .stderr(predicate::str::contains(
            "nodes.wasm is not signed by a key this pipeline trusts: it has no signature",
        ))
        .stderr(predicate::str::contains("path = \"nodes.wasm\""));
    // Signed by the listed key: runs.
    w().arg("sign").arg(&wasm).arg("--key").arg(dir.path().join("author.key")).assert().success();
    run().success().stdout("report: total 223.01, range 20.00 .. 24.55\n");
    // The file changed after signing: refused.
    let mut bytes = std::fs::read(&wasm).unwrap();
    bytes.extend_from_slice(&[0, 3, 2, b'x', b'y']);
    std::fs::write(&wasm, &bytes).unwrap();
    run().code(2).stderr(predicate::str::contains("does not verify with it"));
    // A signature cut short (minisign itself would panic reading it): refused, no crash.
    std::fs::write(&wasm, std::fs::read(DIAMOND_NODES).unwrap()).unwrap();
    w().arg("sign").arg(&wasm).arg("--key").arg(dir.path().join("author.key")).assert().success();
    let signature = dir.path().join("nodes.wasm.minisig");
    let text = std::fs::read_to_string(&signature).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "AAAA";
    std::fs::write(&signature, lines.join("\n")).unwrap();
    run().code(2).stderr(predicate::str::contains("not a well-formed minisign signature"));
    // The secret key listed by mistake: refused, and its text never printed.
    let secret = std::fs::read_to_string(dir.path().join("author.key")).unwrap();
    let secret_line = secret.lines().nth(1).unwrap().to_string();
    manifest(dir.path(), &pipeline("").replace("author.pub", "author.key"));
    run()
        .code(2)
        .stderr(predicate::str::contains("holds no minisign public key"))
        .stderr(predicate::str::contains(secret_line.as_str()).not());
    // An entry's own `keys` replaces the pipeline's: a key that is not a key is a diagnostic.
    manifest(dir.path(), &pipeline("keys = [\"RWnot-a-key\"]"));
    run().code(2).stderr(predicate::str::contains("is neither a minisign public key"));
    // Node folders are the operator's own source: `keys` on one is refused before it is built.
    manifest(dir.path(), "[[components]]\nrust = \".\"\nkeys = [\"author.pub\"]\n");
    std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    run().code(2).stderr(predicate::str::contains("not a node folder that is built here"));
}
