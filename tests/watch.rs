//! `weavelet watch`: a real watcher process re-running a pipeline when what it
//! is made of changes, and never because of what it writes itself.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;

/// A `weavelet watch` under way, its output collected as it comes.
struct Watching {
    child: std::process::Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Watching {
    fn start(dir: &Path, args: &[&str]) -> Watching {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("weavelet"))
            .current_dir(dir)
            .env("WEAVELET_CACHE_DIR", dir.join("cache"))
            .env_remove("WEAVELET_NO_CACHE")
            .env("NO_COLOR", "1")
            .arg("watch")
            .args(args)
            .args(["--debounce", "200ms"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let text = Arc::new(Mutex::new(String::new()));
            let sink = text.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut text = sink.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            });
            text
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Watching { child, stdout, stderr }
    }

    /// Wait (at most a minute) until standard output holds `text` `times` times.
    fn wait_for(&self, text: &str, times: usize) {
        let until = Instant::now() + Duration::from_secs(60);
        while self.stdout.lock().unwrap().matches(text).count() < times {
            assert!(
                Instant::now() < until,
                "waited for {times}× `{text}`; stdout:\n{}\nstderr:\n{}",
                self.stdout.lock().unwrap(),
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn runs(&self) -> usize {
        self.stderr.lock().unwrap().matches("── run ").count()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SCRIPT: &str = "/// @input n int\nfn base(n) { n * 2 }\n\nfn double(base) { base + 1 }\n\nfn out(double) { `${double}!` }\n";

#[test]
fn watch_runs_again_on_a_change_and_never_on_its_own_writes() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("p.rhai");
    std::fs::write(&script, SCRIPT).unwrap();
    let w =
        Watching::start(dir.path(), &["p.rhai", "-p", "n=5", "--save", "out=out/out.txt", "--target", "out"]);
    w.wait_for("out: 11!", 1);
    // Its own writes (the saved file, the cache and history) and unrelated files wake nothing.
    std::thread::sleep(Duration::from_millis(1200));
    std::fs::write(dir.path().join("out/out.txt"), "edited by hand").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not part of the pipeline").unwrap();
    std::fs::write(dir.path().join("cache/stray"), "x").unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(w.runs(), 1, "{}", w.stderr.lock().unwrap());
    // The script changes: one run (a burst of writes is one change), of what changed only.
    std::fs::write(&script, SCRIPT.replace("base + 1", "base + 3")).unwrap();
    std::fs::write(&script, SCRIPT.replace("base + 1", "base + 3") + "// saved twice\n").unwrap();
    w.wait_for("out: 13!", 1);
    std::thread::sleep(Duration::from_millis(1200));
    let stderr = w.stderr.lock().unwrap().clone();
    assert_eq!(w.runs(), 2, "{stderr}");
    assert!(stderr.contains("changed: p.rhai"), "{stderr}");
    assert!(
        stderr.contains("── run 2 ok in ")
            && stderr.contains("(2 ran, 1 cached, 0 failed) (before: run 1 ok"),
        "{stderr}"
    );
    // A broken script is said, and the watch goes on to the fix.
    std::fs::write(&script, "fn base(n) { n * ").unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while !w.stderr.lock().unwrap().contains("the pipeline did not run: fix it and save") {
        assert!(Instant::now() < until, "{}", w.stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(&script, SCRIPT).unwrap();
    w.wait_for("out: 11!", 2);
}

#[test]
fn watch_follows_the_files_a_pipeline_may_read() {
    let dir = tempfile::tempdir().unwrap();
    timeseries(dir.path());
    // A folder nodes may write into is their output, as the files of [outputs] are, even
    // inside a folder they read.
    let manifest = dir.path().join("weavelet.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("read = [\"data\"]", "read = [\"data\"]\nwrite = [\"data/exports\"]");
    std::fs::write(&manifest, text).unwrap();
    let w = Watching::start(dir.path(), &[".", "-q"]);
    let until = Instant::now() + Duration::from_secs(60);
    while w.runs() < 1 {
        assert!(Instant::now() < until, "{}", w.stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
    // The chart files it wrote (out/trend.svg, out/trend@2x.png) wake nothing.
    std::thread::sleep(Duration::from_millis(1200));
    assert!(dir.path().join("out/trend.svg").is_file());
    std::fs::write(dir.path().join("data/exports/written.csv"), "a\n1\n").unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(w.runs(), 1, "{}", w.stderr.lock().unwrap());
    // A new row in the granted data folder does.
    let csv = dir.path().join("data/daily_sales.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("2026-07-02,2500.0\n");
    std::fs::write(&csv, text).unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while w.runs() < 2 {
        assert!(Instant::now() < until, "{}", w.stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
    let stderr = w.stderr.lock().unwrap().clone();
    assert!(stderr.contains("changed: data/daily_sales.csv"), "{stderr}");
    assert!(stderr.contains("── run 2 ok in ") && stderr.contains("(3 ran, 0 cached, 0 failed)"), "{stderr}");
}
