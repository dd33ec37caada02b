//! `weavelet doctor`: what this machine can do — each language's toolchain,
//! the cache folder, worker processes — with the exact fix for what is missing.

use std::path::PathBuf;
use std::process::ExitCode;

use weavelet::build::{Language, doctor};
use weavelet::{Config, RunOptions, Runtime};

#[derive(clap::Args)]
#[command(after_help = "Exit status: 0 everything is here; 1 something is missing (each with its fix).")]
pub struct DoctorArgs {
    /// The cache folder to check (default: $WEAVELET_CACHE_DIR or the platform cache dir).
    #[arg(long, value_name = "DIR", env = "WEAVELET_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

fn line(area: &str, ok: bool, what: &str, detail: &str) {
    let mark = if ok { "ok" } else { "MISSING" };
    out!(
        "{area:<12} {mark:<8} {what}{}",
        if detail.is_empty() { String::new() } else { format!(": {detail}") }
    );
}

pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    out!("weavelet {}", super::long_version());
    let mut missing = 0;
    // The cache folder: there, writable, and its history readable.
    let cache = args.cache_dir.clone().or_else(weavelet::default_cache_dir);
    match &cache {
        Some(dir) => {
            let probe = dir.join(format!(".doctor-{}", std::process::id()));
            let writable = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&probe, b"")).is_ok();
            let _ = std::fs::remove_file(&probe);
            let history = weavelet::ResultStore::open(dir).map(|s| s.runs(usize::MAX).map(|r| r.len()));
            match (writable, history) {
                (true, Ok(Ok(runs))) => line(
                    "cache",
                    true,
                    &dir.display().to_string(),
                    &format!("writable, {runs} runs recorded"),
                ),
                (true, Ok(Err(e)) | Err(e)) => {
                    missing += 1;
                    line(
                        "cache",
                        false,
                        &dir.display().to_string(),
                        &format!("the result cache cannot be read: {e}"),
                    );
                    out!("{:21}fix: weavelet cache clear --history (or --cache-dir ANOTHER)", "");
                }
                (false, _) => {
                    missing += 1;
                    line("cache", false, &dir.display().to_string(), "not writable");
                    out!("{:21}fix: make it writable, or pass --cache-dir DIR (WEAVELET_CACHE_DIR)", "");
                }
            }
        }
        None => {
            missing += 1;
            line("cache", false, "no cache folder", "no home folder and no WEAVELET_CACHE_DIR");
            out!("{:21}fix: export WEAVELET_CACHE_DIR=/some/folder", "");
        }
    }
    // Workers: a real node run in a confined worker process.
    match worker_check(cache) {
        Ok(took) => line("workers", true, "a node ran in a confined worker process", &took),
        Err(e) => {
            missing += 1;
            line("workers", false, "a node in a worker process", &e);
            out!(
                "{:21}fix: see README \"Worker processes\"; `--isolation in-process` runs trusted nodes without them",
                ""
            );
        }
    }
    line("Rhai", true, "built in", "");
    for language in Language::ALL {
        for check in doctor::toolchain(language) {
            match &check.found {
                Some(found) => line(language.label(), true, &check.what, found),
                None => {
                    missing += 1;
                    line(language.label(), false, &check.what, "not found");
                    out!("{:21}fix: {}", "", check.fix);
                }
            }
        }
    }
    if missing == 0 {
        out!("everything is here: nodes in every language can be built and run");
        Ok(ExitCode::SUCCESS)
    } else {
        out!(
            "{missing} missing: node folders in those languages cannot be built here (Rhai scripts and \
             prebuilt components need none of them)"
        );
        Ok(ExitCode::from(super::EXIT_FAILED))
    }
}

/// Run a one-node Rhai script in a worker process; how long it took.
fn worker_check(cache: Option<PathBuf>) -> Result<String, String> {
    let script = std::env::temp_dir().join(format!("weavelet-doctor-{}.rhai", std::process::id()));
    std::fs::write(&script, "fn doctor() { 42 }\n")
        .map_err(|e| format!("writing {}: {e}", script.display()))?;
    let ran = run_script(&script, cache);
    let _ = std::fs::remove_file(&script);
    ran
}

fn run_script(script: &std::path::Path, cache: Option<PathBuf>) -> Result<String, String> {
    let mut config = Config::default().cache_dir(cache).results(false);
    config.policy.isolation = weavelet::Isolation::Process;
    let runtime = Runtime::new(config).map_err(|e| e.to_string())?;
    let pipeline = runtime.load(script).map_err(|e| e.to_string())?;
    let plan = pipeline.plan(&[]).map_err(|e| e.to_string())?;
    let report = runtime.run(&plan, RunOptions::new()).map_err(|e| e.to_string())?;
    report.check().map_err(|e| e.to_string())?;
    Ok(format!("in {}", super::display::duration(report.duration)))
}
