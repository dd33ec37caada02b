//! SVG documents, charts and images between nodes: every operation from a
//! component and from Rhai, chart structure, output files, the hostile inputs
//! of SECURITY.md items 31–34, and the examples against their reference
//! pictures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Cursor;
use std::path::Path;

use crate::common::*;
use weavelet::RunOptions;
use weavelet::{Image, Pipeline, Runtime, Script, Svg, Value};

/// A table for the charts: four regions, two value columns.
const CHART_CSV: &str = "region,revenue,cost
North,120.5,80
South,80.25,60
East,150,90
West,60,70
";

/// A folder with `data/chart.csv`, `data/photos/` (two PNGs), a canary file
/// outside `data/`, and a runtime allowed to read `data/` only.
fn granted() -> (tempfile::TempDir, Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("photos")).unwrap();
    std::fs::write(data.join("chart.csv"), CHART_CSV).unwrap();
    std::fs::write(data.join("photos/a.png"), png(40, 30, [200, 40, 40])).unwrap();
    std::fs::write(data.join("photos/b.png"), png(20, 40, [40, 40, 200])).unwrap();
    std::fs::write(data.join("photos/notes.txt"), "not an image").unwrap();
    std::fs::write(dir.path().join("canary.png"), png(8, 8, [0, 255, 0])).unwrap();
    let config = crate::common::config().cache_dir(None).allow_read(dir.path().to_path_buf(), &data).unwrap();
    (dir, Runtime::new(config).unwrap())
}

fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([rgb[0], rgb[1].wrapping_add((x * 3) as u8), rgb[2].wrapping_add((y * 5) as u8)])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A valid 1 × 1 PNG whose header (with a correct checksum) claims 100 000 × 100 000 pixels.
fn bomb_png() -> Vec<u8> {
    let mut bytes = png(1, 1, [0, 0, 0]);
    bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// `data` as a real gzip file (one stored deflate block).
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1];
    let len = data.len() as u16;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Run `nodes` of the graphics component in one pipeline; returns each
/// node's output or its failure text.
fn run_component(rt: &Runtime, nodes: &[&str], params: Vec<(&str, Value)>) -> Vec<Result<Value, String>> {
    let module = load(rt, GRAPHICS_NODES);
    let mut p = Pipeline::new();
    p.add_nodes(module.nodes());
    for (k, v) in params {
        p.set_param(k, v);
    }
    report_of(rt, &p, nodes)
}

fn report_of(rt: &Runtime, p: &Pipeline, nodes: &[&str]) -> Vec<Result<Value, String>> {
    let report = rt.run(&p.plan(nodes).unwrap(), RunOptions::new()).unwrap();
    nodes
        .iter()
        .map(|n| match report.output(n) {
            Some(v) => Ok(v.clone()),
            None => Err(report
                .failures
                .iter()
                .find(|f| f.node == *n)
                .map(|f| f.to_string())
                .unwrap_or_else(|| format!("`{n}` neither finished nor failed: {report:?}"))),
        })
        .collect()
}

/// Run the Rhai `script` (in the granted folder) for `nodes`.
fn run_rhai(dir: &Path, rt: &Runtime, script: &str, nodes: &[&str]) -> Vec<Result<Value, String>> {
    std::fs::write(dir.join("nodes.rhai"), script).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(Script::load(dir.join("nodes.rhai")).unwrap().nodes());
    report_of(rt, &p, nodes)
}

fn svg_text(v: &Value) -> String {
    match v {
        Value::Svg(s) => s.to_text(),
        Value::Text(t) => t.to_string(),
        other => panic!("expected an svg, got {other:?}"),
    }
}

fn image_of(v: &Value) -> Image {
    match v {
        Value::Image(i) => i.clone(),
        other => panic!("expected an image, got {other:?}"),
    }
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

fn assert_shapes(text: &str) {
    for element in ["<rect", "<circle", "<ellipse", "<line", "<polyline", "<path", "<text", "<g "] {
        assert!(text.contains(element), "no {element} in {text}");
    }
    assert!(text.contains(r#"viewBox="0 0 200 120""#), "{text}");
    assert!(text.contains("Hi &lt;there&gt;"), "text is escaped: {text}");
    assert!(text.contains(r#"<g opacity="0.5">"#), "group with attributes: {text}");
    assert!(
        text.contains(r#"height="25" viewBox="0 0 50 50" width="25" x="150" y="60""#),
        "placed at half size: {text}"
    );
    assert_eq!(count(text, "<circle"), 3, "one circle, and the inner one grouped and placed: {text}");
}

#[test]
fn svg_operations_run_from_a_component() {
    let (_dir, rt) = granted();
    let out = run_component(&rt, &["g_text", "g_render"], vec![]);
    let text = svg_text(out[0].as_ref().unwrap());
    assert!(text.starts_with("200x120\n<svg"), "{text}");
    assert_shapes(&text);
    let rendered = image_of(out[1].as_ref().unwrap());
    assert_eq!((rendered.width(), rendered.height()), (400, 240), "rendered at scale 2");
    // The blue box at (10, 10)-(50, 40) is blue in the picture, at twice the size
    // (at (45, 12), clear of the half-transparent circle of the group).
    let px = rendered.pixels().to_rgba8().get_pixel(90, 24).0;
    assert_eq!(px, [0x4e, 0x79, 0xa7, 255]);
}

const RHAI_SHAPES: &str = r##"
fn shapes() {
    let inner = svg(50, 50).circle(25, 25, 20, #{ fill: "#e15759" });
    svg(200, 120)
        .rect(0, 0, 200, 120, #{ fill: "white" })
        .rect(10, 10, 40, 30, #{ fill: "#4e79a7", class: "box" })
        .circle(80, 25, 15, #{ fill: "#f28e2b" })
        .ellipse(130, 25, 20, 10, #{ fill: "#76b7b2" })
        .line(10, 60, 190, 60, #{ stroke: "black", stroke_width: 2 })
        .polyline([[10, 100], [50, 70], [90, 100]], #{ fill: "none", stroke: "#59a14f" })
        .path("M 100 100 L 120 70 L 140 100 Z", #{ fill: "#edc948" })
        .text(150, 110, "Hi <there>", #{ font_size: 12 })
        .group(inner, #{ opacity: 0.5 })
        .place(inner, 150, 60, 0.5)
        .view_box(0, 0, 200, 120)
}
fn text(shapes) { `${shapes.width}x${shapes.height}` + "\n" + shapes.to_text() }
fn picture(shapes) { shapes.render(2) }
fn parsed(shapes) { parse_svg(shapes.to_text()).render() }
"##;

#[test]
fn svg_operations_run_from_rhai() {
    let (dir, rt) = granted();
    let out = run_rhai(dir.path(), &rt, RHAI_SHAPES, &["text", "picture", "parsed"]);
    let text = svg_text(out[0].as_ref().unwrap());
    assert!(text.starts_with("200.0x120.0\n<svg"), "{text}");
    assert_shapes(&text);
    assert!(text.contains(r#"stroke-width="2""#), "`_` in attribute names becomes `-`: {text}");
    let picture = image_of(out[1].as_ref().unwrap());
    assert_eq!((picture.width(), picture.height()), (400, 240));
    assert_eq!(picture.pixels().to_rgba8().get_pixel(90, 24).0, [0x4e, 0x79, 0xa7, 255]);
    // Parsed back (cleaned by usvg) and rendered, it is the same picture at scale 1.
    let parsed = image_of(out[2].as_ref().unwrap());
    assert_eq!((parsed.width(), parsed.height()), (200, 120));
    assert_eq!(parsed.pixels().to_rgba8().get_pixel(45, 12).0, [0x4e, 0x79, 0xa7, 255]);
}

#[test]
fn every_chart_kind_runs_from_a_component() {
    let (_dir, rt) = granted();
    let out = run_component(&rt, &["g_charts"], vec![("path", Value::from("data/chart.csv"))]);
    let text = svg_text(out[0].as_ref().unwrap());
    // Six charts and a card, each placed as a nested document.
    assert_eq!(count(&text, "<svg"), 1 + 7, "{text}");
    // Two series × four regions, plus four horizontal bars.
    assert_eq!(count(&text, r#"class="bar""#), 12);
    assert_eq!(count(&text, r#"class="bin""#), 4, "four histogram bins");
    assert_eq!(count(&text, r#"class="line""#), 2, "one line per series");
    assert!(count(&text, r#"class="legend""#) >= 4, "legends for the two-series charts");
    for label in ["North", "South", "East", "West", "All charts", "Regions", "120.5", "First revenue"] {
        assert!(text.contains(&format!(">{label}<")), "no `{label}` text: {text}");
    }
}

const RHAI_CHARTS: &str = r#"
fn data(path) { read_table(path) }
fn bar(data) { bar_chart(data, #{ x: "region", y: "revenue", title: "Revenue" }) }
fn grouped(data) { chart("bar", data, #{ x: "region", y: ["revenue", "cost"] }) }
fn hbar(data) { hbar_chart(data, #{ x: "region", y: "cost", x_label: "Cost" }) }
fn line(data) { line_chart(data, #{ x: "region", y: ["revenue", "cost"], width: 500, height: 300 }) }
fn scatter(data) { scatter_chart(data, #{ x: "cost", y: "revenue" }) }
fn hist(data) { histogram(data, #{ x: "revenue", bins: 3 }) }
fn metric(data) { metric_card(data, #{ x: "revenue", title: "First" }) }
fn page(bar, hbar, metric) { dashboard("Page", [bar, hbar, metric, card("Cards", 1234567, "detail")], 2) }
fn wrong(data) { bar_chart(data, #{ x: "region", y: "missing" }) }
fn unknown(data) { bar_chart(data, #{ x: "region", y: "revenue", colour: "red" }) }
"#;

#[test]
fn charts_from_rhai_draw_one_mark_per_value_with_their_labels() {
    let (dir, rt) = granted();
    let nodes = ["bar", "grouped", "hbar", "line", "scatter", "hist", "metric", "page", "wrong", "unknown"];
    let out = {
        std::fs::write(dir.path().join("nodes.rhai"), RHAI_CHARTS).unwrap();
        let mut p = Pipeline::new();
        p.add_nodes(Script::load(dir.path().join("nodes.rhai")).unwrap().nodes());
        p.set_param("path", Value::from("data/chart.csv"));
        report_of(&rt, &p, &nodes)
    };
    let svg = |i: usize| svg_text(out[i].as_ref().unwrap_or_else(|e| panic!("{}: {e}", nodes[i])));
    let bar = svg(0);
    assert_eq!(count(&bar, r#"class="bar""#), 4, "one bar per region");
    for region in ["North", "South", "East", "West"] {
        assert!(bar.contains(&format!(">{region}</text>")), "label {region}");
    }
    assert!(bar.contains(">Revenue</text>") && bar.contains(">revenue</text>"), "title and axis label");
    assert_eq!(count(&bar, r#"class="value""#), 4, "few bars carry their values");
    assert_eq!(count(&svg(1), r#"class="bar""#), 8, "two bars per region");
    assert!(svg(1).contains(">cost</text>"), "legend names the second series");
    assert_eq!(count(&svg(2), r#"class="bar""#), 4);
    assert!(svg(2).contains(">Cost</text>"));
    let line = svg(3);
    assert_eq!(count(&line, r#"class="line""#), 2);
    assert!(line.contains(r#"width="500""#) && line.contains(r#"height="300""#));
    assert_eq!(count(&svg(4), r#"class="point""#), 4);
    assert_eq!(count(&svg(5), r#"class="bin""#), 3);
    assert!(svg(6).contains(">120.5</text>") && svg(6).contains(">First</text>"));
    let page = svg(7);
    assert_eq!(count(&page, "<svg"), 5);
    assert!(page.contains(">1.23M</text>"), "card values are written short: {page}");
    let wrong = out[8].as_ref().unwrap_err();
    assert!(wrong.contains("`wrong`") && wrong.contains("missing"), "{wrong}");
    let unknown = out[9].as_ref().unwrap_err();
    assert!(unknown.contains("`colour` is not a chart option"), "{unknown}");
}

fn check_image_results(images: &[Image]) {
    let by_name = |n: &str| images.iter().find(|i| i.name() == n).unwrap_or_else(|| panic!("no image `{n}`"));
    let size = |n: &str| (by_name(n).width(), by_name(n).height());
    assert_eq!(size("resize"), (30, 20));
    assert_eq!(size("thumbnail"), (16, 12), "40 × 30 fitted into 16 × 16");
    assert_eq!(size("crop"), (10, 5));
    assert_eq!(size("rotate"), (30, 40));
    assert_eq!(size("flip"), (40, 30));
    assert_eq!(by_name("grayscale").pixels().color(), image::ColorType::L8);
    assert_eq!(size("blur"), (40, 30));
    assert_eq!(size("jpeg"), (40, 30));
    assert_eq!(size("webp"), (40, 30));
    assert_eq!(size("sheet"), (76, 40), "two cells of 32 with three gaps of 4");
    let a = by_name("flip").pixels().to_rgb8();
    let b = by_name("resize").pixels().to_rgb8();
    assert_ne!(a.get_pixel(0, 0), b.get_pixel(0, 0), "flipped");
    let bright = by_name("brighten").pixels().to_rgb8().get_pixel(0, 0).0;
    assert_eq!(bright[0], 240, "200 + 40");
    let over = by_name("overlay").pixels().to_rgba8().get_pixel(5, 5).0;
    assert!(over[0] > 200 && over[1] < 100, "half-transparent red over the photo: {over:?}");
    assert!(images.iter().any(|i| i.name() == "blank-a"), "names come from file stems");
}

#[test]
fn image_operations_run_from_a_component() {
    let (_dir, rt) = granted();
    let out = run_component(&rt, &["g_images"], vec![("dir", Value::from("data/photos"))]);
    let Ok(Value::Images(images)) = &out[0] else { panic!("expected images, got {:?}", out[0]) };
    check_image_results(images);
}

const RHAI_IMAGES: &str = r#"
fn results(dir) {
    let paths = list_images(dir);
    let first = read_image(paths[0]);
    let decoded = decode_image(first.encode("png"));
    let blank = blank_image(20, 10, [255, 0, 0, 128]);
    let all = paths.map(|p| read_image(p));
    [
        first.resize(30, 20).with_name("resize"),
        first.thumbnail(16, 16).with_name("thumbnail"),
        first.crop(1, 2, 10, 5).with_name("crop"),
        first.rotate(90).with_name("rotate"),
        first.flip_horizontal().with_name("flip"),
        first.flip_vertical().with_name("flip-v"),
        first.grayscale().with_name("grayscale"),
        first.blur(2).with_name("blur"),
        first.brighten(40).with_name("brighten"),
        first.contrast(30).with_name("contrast"),
        first.overlay(blank, 2, 2).with_name("overlay"),
        decode_image(decoded.encode("jpeg")).with_name("jpeg"),
        decode_image(decoded.encode("webp")).with_name("webp"),
        contact_sheet(all, 2, 32, 32, 4).with_name("sheet"),
        blank.with_name("blank-" + first.name),
    ]
}
fn listed(dir) { list_images(dir) }
"#;

#[test]
fn image_operations_run_from_rhai() {
    let (dir, rt) = granted();
    std::fs::write(dir.path().join("nodes.rhai"), RHAI_IMAGES).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(Script::load(dir.path().join("nodes.rhai")).unwrap().nodes());
    p.set_param("dir", Value::from("data/photos"));
    let out = report_of(&rt, &p, &["results", "listed"]);
    let Ok(Value::Images(images)) = &out[0] else { panic!("expected images, got {:?}", out[0]) };
    check_image_results(images);
    assert_eq!(
        out[1].as_ref().unwrap(),
        &Value::from(vec!["data/photos/a.png".to_string(), "data/photos/b.png".to_string()]),
        "only image files, sorted"
    );
}

fn decode_file(path: &Path) -> image::DynamicImage {
    image::ImageReader::open(path).unwrap().with_guessed_format().unwrap().decode().unwrap()
}

#[test]
fn svgs_and_images_are_saved_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("photos")).unwrap();
    std::fs::write(dir.path().join("photos/one.png"), png(64, 48, [10, 10, 10])).unwrap();
    std::fs::write(dir.path().join("photos/two.png"), png(48, 64, [90, 10, 10])).unwrap();
    std::fs::write(
        dir.path().join("out.rhai"),
        r##"
fn chart() { svg(120, 80).rect(0, 0, 120, 80, #{ fill: "#4e79a7" }) }
fn photos(dir) { list_images(dir).map(|p| read_image(p).thumbnail(32, 32)) }
fn photo(photos) { photos[0] }
"##,
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut cmd = weavelet_cmd();
    cmd.current_dir(dir.path())
        .args(["run", "out.rhai", "--allow-read", "photos", "--param", "dir=photos", "-q"])
        .args(["--save", "chart=out/chart.svg", "--save", "chart=out/chart.png"])
        .args([
            "--save",
            "chart=out/chart@2x.png",
            "--save",
            "chart=out/chart.jpg",
            "--save",
            "chart=out/chart.webp",
        ])
        .args(["--save", "photo=out/photo.jpeg", "--save", "photos=out/thumbs/{name}.webp"]);
    cmd.assert().success();
    let svg = std::fs::read_to_string(out.join("chart.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(r##"fill="#4e79a7""##), "{svg}");
    let sizes: Vec<(u32, u32)> = ["chart.png", "chart@2x.png", "chart.jpg", "chart.webp"]
        .iter()
        .map(|f| {
            let img = decode_file(&out.join(f));
            (img.width(), img.height())
        })
        .collect();
    assert_eq!(sizes, [(120, 80), (240, 160), (120, 80), (120, 80)]);
    assert_eq!(decode_file(&out.join("chart.png")).to_rgb8().get_pixel(5, 5).0, [0x4e, 0x79, 0xa7]);
    assert_eq!(
        (decode_file(&out.join("photo.jpeg")).width(), decode_file(&out.join("photo.jpeg")).height()),
        (32, 24)
    );
    let thumbs = decode_file(&out.join("thumbs/two.webp"));
    assert_eq!((thumbs.width(), thumbs.height()), (24, 32));
    assert!(out.join("thumbs/one.webp").is_file());
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // A list of images needs `{name}` in its path; a wrong extension is refused.
    let failed = weavelet_cmd()
        .current_dir(dir.path())
        .args(["run", "out.rhai", "--allow-read", "photos", "--param", "dir=photos", "-q"])
        .args(["--save", "photos=out/all.png", "--save", "chart=out/chart.csv"])
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&failed.get_output().stderr).to_string();
    assert!(stderr.contains("put `{name}` in the path"), "{stderr}");
    assert!(stderr.contains("an SVG is saved as .svg, .png, .jpg or .webp"), "{stderr}");
}

#[test]
fn case_31_a_decompression_bomb_png_is_refused_from_its_header() {
    let (dir, rt) = granted();
    let bomb = bomb_png();
    assert!(bomb.len() < 100, "a tiny file");
    std::fs::write(dir.path().join("data/bomb.png"), &bomb).unwrap();
    let out =
        run_component(&rt, &["g_decode", "g_shapes"], vec![("bytes", Value::Bytes(bomb.clone().into()))]);
    let e = out[0].as_ref().unwrap_err();
    assert!(e.contains("`g_decode`") && e.contains("100000 × 100000") && e.contains("larger than"), "{e}");
    assert!(out[1].is_ok(), "an independent node still finishes");

    let script = "fn read(path) { read_image(path) } fn fine() { blank_image(2, 2, [1, 2, 3]).width }";
    std::fs::write(dir.path().join("nodes.rhai"), script).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(Script::load(dir.path().join("nodes.rhai")).unwrap().nodes());
    p.set_param("path", Value::from("data/bomb.png"));
    let out = report_of(&rt, &p, &["read", "fine"]);
    let e = out[0].as_ref().unwrap_err();
    assert!(e.contains("`read`") && e.contains("larger than the 8192 × 8192"), "{e}");
    assert_eq!(out[1], Ok(Value::Int(2)));
}

#[test]
fn case_32_an_oversized_resize_is_refused_before_allocating() {
    let (dir, rt) = granted();
    let out = run_component(&rt, &["g_huge_resize", "g_shapes"], vec![]);
    let e = out[0].as_ref().unwrap_err();
    assert!(e.contains("`g_huge_resize`") && e.contains("65535 × 65535"), "{e}");
    assert!(out[1].is_ok());

    let script = r#"
fn huge() { blank_image(4, 4, [0, 0, 0]).resize(65535, 65535) }
fn canvas() { blank_image(100000, 1, [0, 0, 0]) }
fn sheet() { contact_sheet([blank_image(1, 1, [0, 0, 0])], 1, 9000, 10, 0) }
fn fine() { 1 }
"#;
    let out = run_rhai(dir.path(), &rt, script, &["huge", "canvas", "sheet", "fine"]);
    for (i, node) in ["huge", "canvas", "sheet"].iter().enumerate() {
        let e = out[i].as_ref().unwrap_err();
        assert!(e.contains(&format!("`{node}`")) && e.contains("larger than the 8192 × 8192"), "{e}");
    }
    assert_eq!(out[3], Ok(Value::Int(1)));
}

#[test]
fn case_33_an_svg_image_reference_to_a_host_file_is_refused() {
    let (dir, rt) = granted();
    let canary = dir.path().join("canary.png");
    for href in [canary.display().to_string(), format!("file://{}", canary.display()), "/etc/passwd".into()] {
        let text = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="8" height="8"><image href="{href}" width="8" height="8"/><image xlink:href="{href}" width="8" height="8"/></svg>"#
        );
        let out =
            run_component(&rt, &["g_parse_render", "g_shapes"], vec![("text", Value::from(text.as_str()))]);
        let e = out[0].as_ref().unwrap_err();
        assert!(e.contains("`g_parse_render`") && e.contains("outside the document"), "{href}: {e}");
        assert!(out[1].is_ok());
    }
    // Building an element with an outside reference is refused too.
    let out = run_component(&rt, &["g_outside_href"], vec![]);
    assert!(out[0].as_ref().unwrap_err().contains("only `#id` references are allowed"), "{:?}", out[0]);

    let script = format!(
        r#"
fn parsed() {{ parse_svg("<svg xmlns='http://www.w3.org/2000/svg' width='8' height='8'><image href='{}' width='8' height='8'/></svg>") }}
fn built() {{ svg(8, 8).rect(0, 0, 8, 8, #{{ fill: "url(file:///etc/passwd)" }}) }}
fn handler() {{ svg(8, 8).rect(0, 0, 8, 8, #{{ onload: "alert(1)" }}) }}
fn fine() {{ 1 }}
"#,
        canary.display()
    );
    let out = run_rhai(dir.path(), &rt, &script, &["parsed", "built", "handler", "fine"]);
    assert!(out[0].as_ref().unwrap_err().contains("outside the document"), "{:?}", out[0]);
    assert!(out[1].as_ref().unwrap_err().contains("only `url(#id)` is allowed"), "{:?}", out[1]);
    assert!(out[2].as_ref().unwrap_err().contains("event handler"), "{:?}", out[2]);
    assert_eq!(out[3], Ok(Value::Int(1)));
}

#[test]
fn case_34_compressed_svg_is_refused() {
    let (dir, rt) = granted();
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>"#;
    std::fs::write(dir.path().join("data/chart.svgz"), gzip(svg)).unwrap();
    std::fs::write(dir.path().join("data/chart.svg"), svg).unwrap();
    let out = run_component(&rt, &["g_read_svg", "g_shapes"], vec![("path", Value::from("data/chart.svgz"))]);
    let e = out[0].as_ref().unwrap_err();
    assert!(e.contains("`g_read_svg`") && e.contains("compressed"), "{e}");
    assert!(out[1].is_ok());
    let out = run_component(&rt, &["g_read_svg"], vec![("path", Value::from("data/chart.svg"))]);
    assert!(matches!(out[0], Ok(Value::Svg(_))), "the uncompressed file reads: {:?}", out[0]);

    let out = run_rhai(
        dir.path(),
        &rt,
        r#"fn svgz() { read_svg("data/chart.svgz") } fn ok() { 1 }"#,
        &["svgz", "ok"],
    );
    assert!(out[0].as_ref().unwrap_err().contains("compressed SVG (gzip, .svgz) is refused"), "{:?}", out[0]);
    assert_eq!(out[1], Ok(Value::Int(1)));
    // And straight through the library.
    assert!(weavelet::graphics::raster::render_text("\u{1f}\u{8b}", 1.0).is_err());
}

#[test]
fn case_34_embedded_rasters_are_bounded_and_the_output_pixmap_is_capped() {
    let (dir, rt) = granted();
    let embed = |bytes: &[u8]| {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><image href="data:image/png;base64,{}" width="8" height="8"/></svg>"#,
            base64(bytes)
        )
    };
    let out =
        run_component(&rt, &["g_parse_render"], vec![("text", Value::from(embed(&bomb_png()).as_str()))]);
    let e = out[0].as_ref().unwrap_err();
    assert!(e.contains("embedded picture") && e.contains("larger than"), "{e}");
    // A small embedded picture is drawn.
    let out = run_component(
        &rt,
        &["g_parse_render"],
        vec![("text", Value::from(embed(&png(8, 8, [255, 0, 0])).as_str()))],
    );
    let img = image_of(out[0].as_ref().unwrap());
    assert_eq!(img.pixels().to_rgba8().get_pixel(0, 0).0, [255, 0, 0, 255]);

    let script = r#"
fn big() { svg(6000, 6000).render(2) }
fn fine() { svg(10, 10).render(2).width }
"#;
    let out = run_rhai(dir.path(), &rt, script, &["big", "fine"]);
    let e = out[0].as_ref().unwrap_err();
    assert!(e.contains("`big`") && e.contains("12000 × 12000"), "{e}");
    assert_eq!(out[1], Ok(Value::Int(20)));
    assert!(Svg::new(100.0, 100.0).unwrap().to_text().contains("viewBox"));
}

#[test]
fn case_36_filters_masks_and_patterns_are_costed_before_drawing() {
    // resvg cannot be stopped once it draws; in process (a trusted source) a
    // picture's whole cost must be known before it starts. Each of these took
    // minutes to draw: a wide morphology window over a large layer, a mask
    // drawn again for each of the many shapes it masks, a pattern tile full
    // of large shapes.
    let (dir, rt) = granted();
    let dilated = |size: u32, radius: u32| {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}"><filter id="f" x="0" y="0" width="1" height="1"><feMorphology operator="dilate" radius="{radius}"/></filter><rect width="{size}" height="{size}" fill="red" filter="url(#f)"/></svg>"#
        )
    };
    let big_rects: String = (0..100).map(|_| r#"<rect width="2000" height="2000" fill="white"/>"#).collect();
    let masked: String = (0..100).map(|_| r#"<rect width="2000" height="2000" mask="url(#m)"/>"#).collect();
    let mask = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="2000"><mask id="m">{big_rects}</mask>{masked}</svg>"#
    );
    let pattern = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="2000"><pattern id="p" width="2000" height="2000" patternUnits="userSpaceOnUse">{big_rects}</pattern>{}</svg>"#,
        (0..100).map(|_| r#"<rect width="10" height="10" fill="url(#p)"/>"#).collect::<String>()
    );
    let script = format!(
        "fn morphology() {{ parse_svg(`{}`).render().width }}\n\
         fn masks() {{ parse_svg(`{mask}`).render().width }}\n\
         fn patterns() {{ parse_svg(`{pattern}`).render().width }}\n\
         fn small_filter() {{ parse_svg(`{}`).render().width }}\n",
        dilated(2000, 300),
        dilated(200, 2),
    );
    let started = std::time::Instant::now();
    let out = run_rhai(dir.path(), &rt, &script, &["morphology", "masks", "patterns", "small_filter"]);
    for (node, result) in ["morphology", "masks", "patterns"].iter().zip(&out) {
        let e = result.as_ref().unwrap_err();
        assert!(e.contains("masks and filters cover") && e.contains("pixels in all"), "{node}: {e}");
    }
    // A filter of ordinary cost is drawn.
    assert_eq!(out[3], Ok(Value::Int(200)));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
}

#[test]
fn case_36_a_chart_of_a_huge_table_is_refused_before_the_table_is_computed() {
    // A chart draws one mark per row, so it computes at most one row more than
    // it may draw. The file's last row does not parse: computing the whole
    // table would fail on it; the chart must refuse long before reading it.
    let (dir, rt) = granted();
    let mut rows = String::from("region,revenue\n");
    for i in 0..60_000 {
        rows.push_str(&format!("r{i},{i}\n"));
    }
    rows.push_str("last,not-a-number\n");
    std::fs::write(dir.path().join("data/huge.csv"), rows).unwrap();
    let script = r#"
fn bars() { bar_chart(read_table("data/huge.csv"), #{ x: "region", y: "revenue" }) }
fn points() { line_chart(read_table("data/huge.csv").head(1000), #{ x: "revenue", y: "revenue" }).width }
"#;
    let out = run_rhai(dir.path(), &rt, script, &["bars", "points"]);
    let e = out[0].as_ref().unwrap_err();
    assert!(e.contains("bar chart: the table has more than 20000 rows"), "{e}");
    // A table within the limit is drawn as before.
    assert!(matches!(out[1], Ok(Value::Float(w)) if w == 640.0), "{:?}", out[1]);
}

/// The share of pixels of `a` that differ visibly from `b` (any channel by more than 32).
fn differing_share(a: &image::RgbaImage, b: &image::RgbaImage) -> f64 {
    let differing = a
        .pixels()
        .zip(b.pixels())
        .filter(|(p, q)| p.0.iter().zip(q.0.iter()).any(|(x, y)| x.abs_diff(*y) > 32))
        .count();
    differing as f64 / f64::from(a.width() * a.height())
}

/// At most this share of pixels may differ from the reference (text
/// anti-aliasing may differ a little between processors).
const TOLERANCE: f64 = 0.001;

/// Compare a fresh render with its reference picture: same size, and nearly
/// every pixel the same.
fn assert_like_reference(fresh: &Path, reference: &Path) {
    if std::env::var_os("WEAVELET_UPDATE_REFERENCES").is_some() {
        std::fs::create_dir_all(reference.parent().unwrap()).unwrap();
        std::fs::copy(fresh, reference).unwrap();
    }
    let (a, b) = (decode_file(fresh).to_rgba8(), decode_file(reference).to_rgba8());
    assert_eq!(
        a.dimensions(),
        b.dimensions(),
        "{} has another size than {}",
        fresh.display(),
        reference.display()
    );
    let share = differing_share(&a, &b);
    assert!(
        share < TOLERANCE,
        "{} differs from {} in {:.2} % of its pixels (set WEAVELET_UPDATE_REFERENCES=1 to accept a deliberate change)",
        fresh.display(),
        reference.display(),
        share * 100.0
    );
}

#[test]
fn the_examples_render_like_their_reference_pictures() {
    let out = tempfile::tempdir().unwrap();
    let cases = [
        ("sales-report/rhai.toml", "revenue_chart", "revenue.png", "sales-report/reference/revenue.png"),
        ("dashboard/weavelet.toml", "dashboard", "dashboard.png", "dashboard/reference/dashboard.png"),
        ("timeseries/weavelet.toml", "trend_chart", "trend@2x.png", "timeseries/reference/trend@2x.png"),
        ("images/weavelet.toml", "sheet", "contact-sheet.png", "images/reference/contact-sheet.png"),
    ];
    for (manifest, node, file, reference) in cases {
        let fresh = out.path().join(file);
        weavelet_cmd()
            .arg("run")
            .arg(examples().join(manifest))
            .arg("--save")
            .arg(format!("{node}={}", fresh.display()))
            .arg("-q")
            .assert()
            .success();
        assert_like_reference(&fresh, &examples().join(reference));
    }
    // The comparison sees a change as small as a 20 × 20 square.
    let mut chart = decode_file(&examples().join("sales-report/reference/revenue.png")).to_rgba8();
    let original = chart.clone();
    for (x, y) in (0..20).flat_map(|x| (0..20).map(move |y| (300 + x, 200 + y))) {
        chart.put_pixel(x, y, image::Rgba([255, 0, 255, 255]));
    }
    assert!(differing_share(&chart, &original) >= TOLERANCE);
}

#[test]
fn the_sales_report_draws_the_same_chart_from_rust_and_from_rhai() {
    let out = tempfile::tempdir().unwrap();
    let mut charts = Vec::new();
    for (manifest, file) in
        [("sales-report/weavelet.toml", "rust.svg"), ("sales-report/rhai.toml", "rhai.svg")]
    {
        let saved = out.path().join(file);
        let run = weavelet_cmd()
            .arg("run")
            .arg(examples().join(manifest))
            .arg("--save")
            .arg(format!("revenue_chart={}", saved.display()))
            .arg("-q")
            .assert()
            .success();
        let stdout = String::from_utf8_lossy(&run.get_output().stdout).to_string();
        assert!(stdout.contains("by_region: table of 6 rows"), "{stdout}");
        charts.push(std::fs::read_to_string(&saved).unwrap());
    }
    assert_eq!(charts[0], charts[1], "the Rust and the Rhai pipeline draw the same SVG");
    assert_eq!(count(&charts[0], r#"class="bar""#), 6, "one bar per region");
    assert!(charts[0].contains(">Revenue by region</text>"));
}

#[test]
fn a_chart_computes_its_input_once_for_every_reader() {
    let (dir, rt) = granted();
    let script = r#"
fn totals(path) { read_table(path).group_by("region", #{ revenue: "sum(revenue)" }) }
fn chart(totals) { bar_chart(totals, #{ x: "region", y: "revenue" }) }
"#;
    std::fs::write(dir.path().join("nodes.rhai"), script).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(Script::load(dir.path().join("nodes.rhai")).unwrap().nodes());
    p.set_param("path", Value::from("data/chart.csv"));
    let report = rt.run(&p.plan(&["totals", "chart"]).unwrap(), RunOptions::new()).unwrap();
    report.check().unwrap();
    let Some(Value::Table(totals)) = report.output("totals") else { panic!("expected a table") };
    // The chart computed the table it was given; the output reuses that result
    // instead of running the scan and the group-by a second time.
    assert!(totals.is_collected());
}

#[test]
fn a_script_reports_progress_through_a_folder() {
    let dir = examples().join("images");
    let config =
        crate::common::config().cache_dir(None).allow_read(dir.clone(), &dir.join("photos")).unwrap();
    let rt = Runtime::new(config).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(Script::load(dir.join("images.rhai")).unwrap().nodes());
    p.set_param("dir", Value::from("photos"));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink: weavelet::EventSink = {
        let seen = seen.clone();
        std::sync::Arc::new(move |e: &weavelet::Event| {
            if let weavelet::EventKind::Progress { done, total, message } = &e.kind {
                seen.lock().unwrap().push((e.node.to_string(), *done, *total, message.clone()));
            }
        })
    };
    let report = rt.run(&p.plan(&["photos"]).unwrap(), RunOptions::new().events(sink)).unwrap();
    report.check().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 6, "one report per photo: {seen:?}");
    assert_eq!(seen[1], ("photos".to_string(), 1, 6, "photos/mountains.png".to_string()), "in name order");
}

#[test]
fn host_images_count_against_a_components_memory_budget() {
    let (_dir, rt) = granted();
    let out = run_component(&rt, &["g_hoard", "g_shapes"], vec![]);
    let e = out[0].as_ref().unwrap_err();
    assert!(e.contains("`g_hoard`") && e.contains("memory budget"), "{e}");
    assert!(out[1].is_ok(), "an independent node still finishes");
}

#[test]
fn a_picture_too_expensive_to_draw_is_refused_before_drawing() {
    let (dir, rt) = granted();
    let script = r#"
fn slow() {
    let s = svg(4000, 4000);
    for i in 0..2000 { s = s.rect(0, 0, 4000, 4000, #{ fill: "red", opacity: 0.5 }); }
    s.render()
}
fn fine() { 1 }
"#;
    let started = std::time::Instant::now();
    let out = run_rhai(dir.path(), &rt, script, &["slow", "fine"]);
    let e = out[0].as_ref().unwrap_err();
    assert!(e.contains("`slow`") && e.contains("more than the 2e9 one picture may take to draw"), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "refused promptly: {:?}",
        started.elapsed()
    );
    assert_eq!(out[1], Ok(Value::Int(1)));
}
