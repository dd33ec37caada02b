//! `weavelet report`: one self-contained HTML page about a run, checked as
//! text and as a real headless Chromium (Debian's `chromium`) renders it.

use std::path::{Path, PathBuf};

use crate::common::weavelet_in as weavelet;
use crate::common::*;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium, or `None` (with a note) where it is not installed outside CI.
fn chromium() -> Option<PathBuf> {
    if Path::new(CHROMIUM).is_file() {
        return Some(PathBuf::from(CHROMIUM));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("CI must open the report in a browser, but {CHROMIUM} is missing (apt-get install chromium)");
    }
    eprintln!("skipped the browser half: {CHROMIUM} is missing (apt-get install chromium)");
    None
}

/// Chromium, headless, on `page` with `args`; its standard output.
fn headless(browser: &Path, page: &Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What makes a page fetch something: none may appear in a report.
fn fetches(html: &str) -> Vec<&'static str> {
    ["src=\"http", "href=\"http", "url(", "<link", "<script", "@import", "src=\"//", "src=\"file:"]
        .into_iter()
        .filter(|needle| html.contains(needle))
        .collect()
}

#[test]
fn a_run_report_is_one_self_contained_page_a_browser_renders() {
    let dir = tempfile::tempdir().unwrap();
    timeseries(dir.path());
    weavelet(dir.path(), &["run", "-q", ".", "--target", "smoothed", "--target", "trend_chart"]).success();
    weavelet(dir.path(), &["report", "last", "-o", "out/report.html"])
        .success()
        .stderr(predicates::str::contains("wrote out/report.html (run 1, 3 nodes"));
    let page = dir.path().join("out/report.html");
    let html = std::fs::read_to_string(&page).unwrap();

    // Self-contained: nothing to fetch, and a policy forbidding it anyway.
    assert_eq!(fetches(&html), Vec::<&str>::new());
    assert!(html.contains("default-src 'none'; img-src data:"), "no Content-Security-Policy");
    // Each node: a row of costs and a bar on the timeline; each output previewed.
    for node in ["daily", "smoothed", "trend_chart"] {
        assert!(html.contains(&format!("<tr data-node=\"{node}\" data-status=\"ran\">")), "{node}'s row");
        assert!(html.contains(&format!("<g class=\"bar\" data-node=\"{node}\">")), "{node}'s bar");
    }
    assert!(html.contains("A table of 182 rows and 3 columns; the first 10."), "the table's preview");
    assert!(html.contains("src=\"data:image/svg+xml;base64,"), "the chart");
    assert!(html.contains("<td><code>path</code></td><td><code>data/daily_sales.csv</code></td>"), "params");

    let Some(browser) = chromium() else { return };
    // The DOM the browser built: every node where it belongs.
    let dom = headless(&browser, &page, &["--dump-dom"]);
    let rows = dom.matches("<tr data-node=").count();
    assert_eq!(rows, 3, "{dom}");
    for node in ["daily", "smoothed", "trend_chart"] {
        assert!(dom.contains(&format!("<g class=\"bar\" data-node=\"{node}\">")), "{node} not in the DOM");
        assert!(dom.contains(&format!(">{node}</text>")), "{node} not drawn in the graph");
    }
    assert!(dom.contains("<div class=\"output\" data-node=\"smoothed\">"), "{dom}");
    assert_eq!(dom.matches("<table class=\"preview\">").count(), 1);
    // The picture it makes: the graph's and the timeline's "ran" green, and the chart.
    let shot = dir.path().join("shot.png");
    headless(&browser, &page, &["--window-size=1280,2400", &format!("--screenshot={}", shot.display())]);
    let image = weavelet::Image::decode(&std::fs::read(&shot).unwrap(), "shot").unwrap();
    let pixels = image.pixels().to_rgba8();
    assert_eq!((pixels.width(), pixels.height()), (1280, 2400));
    let count = |rgb: [u8; 3]| pixels.pixels().filter(|p| p.0[..3] == rgb).count();
    let ran_green = count([0xdc, 0xfc, 0xe7]);
    assert!(ran_green > 2000, "the green of nodes that ran covers {ran_green} pixels");
    let distinct: std::collections::HashSet<[u8; 3]> =
        pixels.pixels().map(|p| [p.0[0], p.0[1], p.0[2]]).collect();
    assert!(distinct.len() > 50, "a nearly blank page: {} colours", distinct.len());
}

const FAILING: &str = r#"
/// @input n int
fn squares(n) {
    print(`making ${n} squares`);
    let out = [];
    for i in 1..=n { out.push(i * i); }
    out
}

/// A picture.
fn swatch(n) { blank_image(40, 20, [200, 30, 30]) }

fn broken(squares) {
    print("<b>not markup</b> & about to fail");
    throw "it went wrong"
}

fn after(broken) { broken }
"#;

#[test]
fn a_report_shows_failures_logs_and_pictures_escaped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rhai"), FAILING).unwrap();
    weavelet(
        dir.path(),
        &[
            "run", "-q", "p.rhai", "-p", "n=4", "--target", "squares", "--target", "swatch", "--target",
            "after",
        ],
    )
    .failure();
    weavelet(dir.path(), &["report", "last", "-q"]).success().stderr("");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(fetches(&html), Vec::<&str>::new());
    assert!(html.contains("<tr data-node=\"broken\" data-status=\"failed\">"), "{html}");
    assert!(html.contains("<tr data-node=\"after\" data-status=\"skipped\">"), "{html}");
    assert!(html.contains("it went wrong"));
    // A guest's text is text: escaped, never markup.
    assert!(
        html.contains("printed: &lt;b&gt;not markup&lt;/b&gt; &amp; about to fail")
            || html.contains("&lt;b&gt;not markup&lt;/b&gt; &amp; about to fail"),
        "{html}"
    );
    assert!(!html.contains("<b>not markup</b>"));
    assert!(html.contains("making 4 squares"));
    // Outputs: the list as text, the picture as a thumbnail; the failed node has none.
    assert!(html.contains("[1, 4, 9, 16]"), "{html}");
    assert!(html.contains("src=\"data:image/png;base64,iVBOR"), "the picture");
    assert!(html.contains("None: the node skipped."), "{html}");
    // Unknown runs are said.
    weavelet(dir.path(), &["report", "9"]).code(2).stderr(predicates::str::contains("no run 9"));
}
