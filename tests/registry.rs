//! Community nodes from a real OCI registry (the CNCF distribution registry,
//! Debian's `docker-registry`, started by each test on loopback): published
//! with `weavelet publish`, added, pinned, signed, tampered with, updated.
//! Without the registry a test says so and passes — except under `CI=true`,
//! where `.ci/run` installs it and its absence fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

use crate::common::*;

const REGISTRY: &str = "/usr/bin/docker-registry";

/// A registry serving from its own folder on 127.0.0.1, stopped when dropped.
struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
    /// Its storage folder.
    root: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// The file the registry serves for the blob `sha256:<hex>`.
    fn blob(&self, hex: &str) -> PathBuf {
        self.root.join(format!("docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }

    /// Stops serving (what an offline run sees).
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A started registry; `None` (with a note) where it is not installed outside CI.
fn registry() -> Option<Registry> {
    if !Path::new(REGISTRY).is_file() {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!(
                "CI must run the registry tests, but {REGISTRY} is missing (apt-get install docker-registry)"
            );
        }
        eprintln!("skipped: {REGISTRY} is missing (apt-get install docker-registry)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("storage");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            root.display()
        ),
    )
    .unwrap();
    let child = Process::new(REGISTRY)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let registry = Registry { child, addr, root, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&registry.addr).is_err() {
        assert!(Instant::now() < deadline, "the registry did not start on {}", registry.addr);
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(registry)
}

fn weavelet(cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weavelet"));
    cmd.env("WEAVELET_CACHE_DIR", cache).env_remove("CARGO_TARGET_DIR");
    cmd
}

/// `wasm` with a custom section appended: another file (another digest), the
/// same component — a pure code change as far as its declarations go.
fn rebuilt(wasm: &[u8], note: &str) -> Vec<u8> {
    let name = b"weavelet-test-build";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(note.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0);
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        out.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    out.extend_from_slice(&payload);
    out
}

/// One plain HTTP/1.1 request to the registry at `addr` (an OCI manifest for
/// `PUT`); the response's body. Panics unless it succeeds.
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let media = "application/vnd.oci.image.manifest.v1+json";
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {media}\r\nContent-Type: {media}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&response[..split]).to_string();
    assert!(status.starts_with("HTTP/1.1 20"), "{method} {path}: {status}");
    response[split + 4..].to_vec()
}

fn sha(bytes: &[u8]) -> String {
    weavelet::key::hex(&weavelet::key::sha256(bytes))
}

/// Copies `from` to `dir/name` (a file of its own, with no signature beside it).
fn copy(from: &str, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::write(&to, std::fs::read(from).unwrap()).unwrap();
    to
}

#[test]
fn a_published_component_is_added_pinned_signed_and_refused_when_the_registry_lies() {
    let Some(mut registry) = registry() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let keys = dir.path().join("keys");
    let w = || weavelet(&cache);

    // An author: a key pair, a signed component, published.
    w().args(["keygen", "--dir"])
        .arg(&keys)
        .assert()
        .success()
        .stdout(predicate::str::contains("keys = [\"RW"));
    w().args(["keygen", "--dir"])
        .arg(&keys)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("never replaces a key"));
    let wasm = copy(DIAMOND_NODES, dir.path(), "diamond.wasm");
    let digest = sha(&std::fs::read(&wasm).unwrap());
    let reference = format!("{}/community/diamond:1.0", registry.addr);
    w().arg("publish")
        .arg(&wasm)
        .arg(&reference)
        .arg("--key")
        .arg(keys.join("weavelet.key"))
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("sha256 = \"{digest}\"")))
        .stdout(predicate::str::contains("signed by key"));

    // A pipeline that trusts the author's key adds it: reviewed, pinned, locked with its signer.
    let pipeline = dir.path().join("pipeline");
    std::fs::create_dir_all(&pipeline).unwrap();
    let before = "[pipeline]\nname = \"community\"\n\n[trust]\nkeys = [\"../keys/weavelet.pub\"]\n\n[params]\ncount = 10\n";
    let m = manifest(&pipeline, before);
    let add = |reference: &str| {
        let mut cmd = w();
        cmd.arg("add").arg(reference).arg("--to").arg(&pipeline);
        cmd
    };
    add(&reference)
        .arg("--yes")
        .assert()
        .success()
        .stdout(predicate::str::contains("one the pipeline trusts"));
    let pinned = std::fs::read_to_string(&m).unwrap();
    assert!(pinned.contains(&format!("oci = \"{reference}\"\nsha256 = \"{digest}\"\n")), "{pinned}");
    let lock = std::fs::read_to_string(pipeline.join("weavelet.lock")).unwrap();
    assert!(lock.contains(&format!("oci = \"{reference}\"")) && lock.contains("signer = \""), "{lock}");
    let run = |cache: &Path| weavelet(cache).arg("run").arg(&pipeline).assert();
    run(&cache).success().stdout("report: total 223.01, range 20.00 .. 24.55\n");

    // Signed by a key the pipeline does not list, or not signed: refused, nothing written.
    w().args(["keygen", "--name", "mallory", "--dir"]).arg(&keys).assert().success();
    let stranger = dir.path().join("stranger");
    std::fs::create_dir_all(&stranger).unwrap();
    let other = copy(FIXTURE_NODES, &stranger, "fixtures.wasm");
    let signed_by_mallory = format!("{}/community/fixtures:1.0", registry.addr);
    w().arg("publish")
        .arg(&other)
        .arg(&signed_by_mallory)
        .arg("--key")
        .arg(keys.join("mallory.key"))
        .assert()
        .success();
    add(&signed_by_mallory)
        .arg("--yes")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("which is not one of the trusted keys"));
    std::fs::remove_file(weavelet::trust::signature_path(&other)).unwrap();
    let unsigned = format!("{}/community/fixtures:unsigned", registry.addr);
    w().arg("publish")
        .arg(&other)
        .arg(&unsigned)
        .assert()
        .success()
        .stdout(predicate::str::contains("unsigned"));
    add(&unsigned).arg("--yes").assert().code(2).stderr(predicate::str::contains("it has no signature"));
    assert_eq!(std::fs::read_to_string(&m).unwrap(), pinned);

    // The registry serves the signed 1.0 under another tag (a rollback dressed as an
    // upgrade): its signature names the reference it was published as, so it is refused.
    let manifest_json = http(&registry.addr, "GET", "/v2/community/diamond/manifests/1.0", &[]);
    let retagged = http(&registry.addr, "PUT", "/v2/community/diamond/manifests/9.0", &manifest_json);
    assert!(retagged.is_empty() || retagged.starts_with(b"{"), "{}", String::from_utf8_lossy(&retagged));
    add(&format!("{}/community/diamond:9.0", registry.addr))
        .arg("--yes")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("it was signed for {reference}, not")));
    assert_eq!(std::fs::read_to_string(&m).unwrap(), pinned);

    // The registry serves other bytes for the pinned blob: refused, both digests named, nothing kept.
    let blob = registry.blob(&digest);
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let fresh = dir.path().join("fresh");
    run(&fresh)
        .code(2)
        .stderr(predicate::str::contains(format!(
            "the registry served a component whose SHA-256 is {}",
            sha(&bytes)
        )))
        .stderr(predicate::str::contains(format!("manifest names {digest}")));
    let kept = std::fs::read_dir(fresh.join("downloads")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(kept, 0, "a component that failed its digest was kept");

    // The tag now names another artifact: refused before its component is fetched.
    w().arg("publish").arg(&other).arg(&reference).assert().success();
    run(&fresh)
        .code(2)
        .stderr(predicate::str::contains(format!(
            "names a component with SHA-256 {}",
            sha(&std::fs::read(&other).unwrap())
        )))
        .stderr(predicate::str::contains(format!("not the {digest} the manifest pins")));

    // The signature is checked on every run: a pipeline that stops trusting the key refuses it.
    let mallory_only = pinned.replace("../keys/weavelet.pub", "../keys/mallory.pub");
    std::fs::write(&m, &mallory_only).unwrap();
    run(&cache).code(2).stderr(predicate::str::contains("is not signed by a key this pipeline trusts"));
    std::fs::write(&m, &pinned).unwrap();

    // Offline: the first run's cache serves the component and its signature.
    registry.stop();
    run(&cache).success().stdout("report: total 223.01, range 20.00 .. 24.55\n");
}

#[test]
fn an_update_that_asks_for_more_is_shown_and_needs_approval() {
    let Some(registry) = registry() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let w = || weavelet(&cache);
    let repository = format!("{}/community/nodes", registry.addr);
    let publish = |file: &Path, tag: &str| {
        w().arg("publish").arg(file).arg(format!("{repository}:{tag}")).assert().success();
    };
    let v1 = copy(DIAMOND_NODES, dir.path(), "v1.wasm");
    publish(&v1, "1.0");
    let pipeline = dir.path().join("pipeline");
    std::fs::create_dir_all(&pipeline).unwrap();
    let m = manifest(&pipeline, "[pipeline]\nname = \"updated\"\n\n[params]\ncount = 10\n");
    w().arg("add")
        .arg(format!("{repository}:1.0"))
        .arg("--to")
        .arg(&pipeline)
        .arg("--yes")
        .assert()
        .success();
    w().arg("update")
        .arg("--to")
        .arg(&pipeline)
        .assert()
        .success()
        .stderr(predicate::str::contains("up to date"));

    // 1.1: the same nodes asking for the same things, rebuilt: pinned without a question.
    let v11 = dir.path().join("v1.1.wasm");
    std::fs::write(&v11, rebuilt(&std::fs::read(&v1).unwrap(), "1.1")).unwrap();
    let v11_digest = sha(&std::fs::read(&v11).unwrap());
    publish(&v11, "1.1");
    w().arg("update")
        .arg("--to")
        .arg(&pipeline)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(":1.0 -> {repository}:1.1")))
        .stdout(predicate::str::contains("requests unchanged"));
    let text = std::fs::read_to_string(&m).unwrap();
    assert!(text.contains(&format!("oci = \"{repository}:1.1\"\nsha256 = \"{v11_digest}\"")), "{text}");
    weavelet(&cache)
        .arg("run")
        .arg(&pipeline)
        .assert()
        .success()
        .stdout("report: total 223.01, range 20.00 .. 24.55\n");

    // 2.0 asks for folders, variables and the clock: shown as a diff and refused without approval.
    let v2 = copy(CAPABILITY_NODES, dir.path(), "v2.wasm");
    let v2_digest = sha(&std::fs::read(&v2).unwrap());
    publish(&v2, "2.0");
    w().arg("update")
        .arg("community/nodes")
        .arg("--to")
        .arg(&pipeline)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(":1.1 -> {repository}:2.0")))
        .stdout(predicate::str::contains("+ env_and_clock: clock"))
        .stdout(predicate::str::contains("+ reads_data: read-dir"))
        .stdout(predicate::str::contains("+ node snoop"))
        .stdout(predicate::str::contains("- node report"))
        .stderr(predicate::str::contains("asks for more than the version reviewed before"))
        .stderr(predicate::str::contains(format!("--approve {v2_digest}")));
    assert_eq!(std::fs::read_to_string(&m).unwrap(), text, "a refused update changed the manifest");
    let lock = std::fs::read_to_string(pipeline.join("weavelet.lock")).unwrap();
    assert!(lock.contains(&v11_digest) && !lock.contains(&v2_digest), "{lock}");

    // Approving another digest (a version published after the review) approves nothing.
    let refused =
        w().arg("update").arg("--to").arg(&pipeline).args(["--approve", &v11_digest]).assert().code(1);
    refused.stderr(predicate::str::contains("not updated"));
    assert_eq!(std::fs::read_to_string(&m).unwrap(), text);

    // Approved: pinned, and the lock records what was granted.
    w().arg("update").arg("--to").arg(&pipeline).args(["--approve", &v2_digest]).assert().success();
    let text = std::fs::read_to_string(&m).unwrap();
    assert!(text.contains(&format!("oci = \"{repository}:2.0\"\nsha256 = \"{v2_digest}\"")), "{text}");
    let lock = std::fs::read_to_string(pipeline.join("weavelet.lock")).unwrap();
    assert!(
        lock.contains(&v2_digest) && lock.contains("env_and_clock: clock") && lock.contains("\"snoop\""),
        "{lock}"
    );
}

#[test]
fn registry_credentials_go_only_to_the_registry_they_are_for() {
    use std::io::{BufRead, Write};
    // A registry that asks for a login and records the head of every request.
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = std::io::BufReader::new(stream);
            let (mut head, mut line) = (String::new(), String::new());
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                head.push_str(&line.to_ascii_lowercase());
                line.clear();
            }
            seen.lock().unwrap().push(head);
            let answer = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"registry\"\r\n\
                          Content-Length: 0\r\nConnection: close\r\n\r\n";
            let _ = reader.into_inner().write_all(answer.as_bytes());
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let inspect = |host: &str| {
        weavelet(dir.path())
            .args(["inspect", &format!("oci://{addr}/community/nodes:1.0")])
            .env("WEAVELET_REGISTRY_USERNAME", "alice")
            .env("WEAVELET_REGISTRY_PASSWORD", "s3cret")
            .env("WEAVELET_REGISTRY_HOST", host)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("s3cret").not());
    };
    // Credentials for another registry: this one is asked anonymously.
    inspect("registry.example");
    let sent = std::mem::take(&mut *heads.lock().unwrap());
    assert!(!sent.is_empty() && sent.iter().all(|h| !h.contains("authorization:")), "{sent:?}");
    // For this registry: sent.
    inspect(&addr);
    let sent = heads.lock().unwrap().clone();
    assert!(sent.iter().any(|h| h.contains("authorization: basic")), "{sent:?}");
}
