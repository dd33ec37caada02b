//! Tables between nodes: every operation from a component and from Rhai,
//! O(1) handle passing, IPC, file grants, schema checks, lazy plans and
//! atomic output files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::*;
use weavelet::RunOptions;
use weavelet::polars::prelude::*;
use weavelet::{Pipeline, Runtime, Script, Table, Value};

const SALES_CSV: &str = "region,product,revenue,orders
north,apple,10.5,1
south,pear,20.0,2
north,plum,-5.0,3
east,apple,,4
south,apple,7.5,5
";

fn sales() -> Table {
    let df = df!(
        "region" => ["north", "south", "north", "east", "south"],
        "product" => ["apple", "pear", "plum", "apple", "apple"],
        "revenue" => [Some(10.5), Some(20.0), Some(-5.0), None, Some(7.5)],
        "orders" => [1i64, 2, 3, 4, 5],
    )
    .unwrap();
    Table::from_frame(df)
}

fn targets() -> Table {
    let df = df!("region" => ["north", "south", "west"], "target" => [15.0, 25.0, 5.0]).unwrap();
    Table::from_frame(df)
}

/// A folder with `data/sales.csv` and a runtime allowed to read `data/`.
fn granted() -> (tempfile::TempDir, Runtime) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/sales.csv"), SALES_CSV).unwrap();
    std::fs::write(dir.path().join("secret.csv"), "token\nhunter2\n").unwrap();
    let config = crate::common::config()
        .cache_dir(None)
        .allow_read(dir.path().to_path_buf(), &dir.path().join("data"))
        .unwrap();
    (dir, Runtime::new(config).unwrap())
}

fn text(s: &str) -> Value {
    Value::from(s)
}

fn texts(items: &[&str]) -> Value {
    Value::from(items.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

/// Run node `node` of the tables component with `params` bound by input name.
fn run_component(rt: &Runtime, node: &str, params: Vec<(&str, Value)>) -> Result<Value, String> {
    let module = load(rt, TABLE_NODES);
    let mut p = Pipeline::new();
    p.add_node(module.node(node).unwrap());
    for (k, v) in params {
        p.set_param(k, v);
    }
    let report = rt.run(&p.plan(&[node]).map_err(|e| e.to_string())?, RunOptions::new()).unwrap();
    match report.check() {
        Ok(()) => Ok(report.output(node).cloned().unwrap()),
        Err(e) => Err(e.to_string()),
    }
}

fn frame(v: &Value) -> DataFrame {
    match v {
        Value::Table(t) => t.collect().unwrap(),
        other => panic!("expected a table, got {other:?}"),
    }
}

fn strings(df: &DataFrame, column: &str) -> Vec<String> {
    df.column(column).unwrap().str().unwrap().iter().map(|v| v.unwrap().to_string()).collect()
}

fn floats(df: &DataFrame, column: &str) -> Vec<Option<f64>> {
    df.column(column).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().iter().collect()
}

#[test]
fn every_operation_runs_from_a_component() {
    let (_dir, rt) = granted();
    let t = || ("t", Value::Table(sales()));

    let read = run_component(&rt, "t_read", vec![("path", text("data/sales.csv"))]).unwrap();
    assert_eq!(frame(&read).shape(), (5, 4));

    let schema = run_component(&rt, "t_schema", vec![t()]).unwrap();
    assert_eq!(schema, texts(&["region:str", "product:str", "revenue:f64", "orders:i64"]));
    assert_eq!(run_component(&rt, "t_height", vec![t()]).unwrap(), Value::Int(5));

    let selected = frame(
        &run_component(&rt, "t_select", vec![t(), ("exprs", texts(&["region", "orders * 2 AS twice"]))])
            .unwrap(),
    );
    assert_eq!(
        selected.get_column_names().iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        ["region", "twice"]
    );
    assert_eq!(floats(&selected, "twice"), [Some(2.0), Some(4.0), Some(6.0), Some(8.0), Some(10.0)]);

    let renamed =
        frame(&run_component(&rt, "t_rename", vec![t(), ("names", texts(&["region=area"]))]).unwrap());
    assert_eq!(
        renamed.get_column_names().iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        ["area", "product", "revenue", "orders"]
    );

    let dropped = frame(&run_component(&rt, "t_drop", vec![t(), ("columns", texts(&["product"]))]).unwrap());
    assert_eq!(
        dropped.get_column_names().iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        ["region", "revenue", "orders"]
    );

    let filtered = frame(
        &run_component(&rt, "t_filter", vec![t(), ("predicate", text("revenue > 0 AND region <> 'south'"))])
            .unwrap(),
    );
    assert_eq!(strings(&filtered, "product"), ["apple"]);

    let derived = frame(
        &run_component(
            &rt,
            "t_with_columns",
            vec![t(), ("columns", texts(&["gross=ROUND(revenue * 1.2, 1)"]))],
        )
        .unwrap(),
    );
    assert_eq!(floats(&derived, "gross")[0], Some(12.6));

    let grouped = frame(
        &run_component(
            &rt,
            "t_group_by",
            vec![
                t(),
                ("keys", texts(&["region"])),
                (
                    "aggs",
                    texts(&[
                        "sum=sum(revenue)",
                        "mean=mean(revenue)",
                        "min=min(revenue)",
                        "max=max(revenue)",
                        "count=count(orders)",
                        "products=n_unique(product)",
                        "first=first(product)",
                        "last=last(product)",
                    ]),
                ),
            ],
        )
        .unwrap(),
    );
    assert_eq!(strings(&grouped, "region"), ["north", "south", "east"], "groups keep first-appearance order");
    assert_eq!(floats(&grouped, "sum"), [Some(5.5), Some(27.5), Some(0.0)]);
    assert_eq!(floats(&grouped, "mean"), [Some(2.75), Some(13.75), None]);
    assert_eq!(floats(&grouped, "min"), [Some(-5.0), Some(7.5), None]);
    assert_eq!(floats(&grouped, "max"), [Some(10.5), Some(20.0), None]);
    assert_eq!(floats(&grouped, "count"), [Some(2.0), Some(2.0), Some(1.0)]);
    assert_eq!(floats(&grouped, "products"), [Some(2.0), Some(2.0), Some(1.0)]);
    assert_eq!(strings(&grouped, "first"), ["apple", "pear", "apple"]);
    assert_eq!(strings(&grouped, "last"), ["plum", "apple", "apple"]);

    let sorted = frame(
        &run_component(
            &rt,
            "t_sort",
            vec![t(), ("by", texts(&["region", "orders"])), ("descending", Value::from(vec![false, true]))],
        )
        .unwrap(),
    );
    assert_eq!(floats(&sorted, "orders"), [Some(4.0), Some(3.0), Some(1.0), Some(5.0), Some(2.0)]);

    let head = frame(&run_component(&rt, "t_head", vec![t(), ("n", Value::Int(2))]).unwrap());
    assert_eq!(floats(&head, "orders"), [Some(1.0), Some(2.0)]);
    let tail = frame(&run_component(&rt, "t_tail", vec![t(), ("n", Value::Int(2))]).unwrap());
    assert_eq!(floats(&tail, "orders"), [Some(4.0), Some(5.0)]);
    let slice = frame(
        &run_component(&rt, "t_slice", vec![t(), ("offset", Value::Int(1)), ("n", Value::Int(2))]).unwrap(),
    );
    assert_eq!(floats(&slice, "orders"), [Some(2.0), Some(3.0)]);

    let join = |how: &str| {
        frame(
            &run_component(
                &rt,
                "t_join",
                vec![t(), ("other", Value::Table(targets())), ("on", text("region")), ("how", text(how))],
            )
            .unwrap(),
        )
    };
    assert_eq!(join("inner").height(), 4, "east has no target, west no sales");
    assert_eq!(join("left").height(), 5);
    let outer = join("outer");
    assert_eq!(outer.height(), 6);
    assert!(strings(&outer.drop_nulls::<String>(None).unwrap(), "region").contains(&"north".to_string()));
    assert!(
        outer.column("region").unwrap().str().unwrap().iter().any(|r| r == Some("west")),
        "keys coalesced"
    );

    let no_nulls = frame(&run_component(&rt, "t_drop_nulls", vec![t()]).unwrap());
    assert_eq!(no_nulls.height(), 4);

    let rolling = frame(
        &run_component(&rt, "t_rolling_mean", vec![t(), ("column", text("orders")), ("n", Value::Int(2))])
            .unwrap(),
    );
    assert_eq!(floats(&rolling, "rolling"), [None, Some(1.5), Some(2.5), Some(3.5), Some(4.5)]);

    let stacked =
        frame(&run_component(&rt, "t_concat", vec![t(), ("other", Value::Table(sales()))]).unwrap());
    assert_eq!(stacked.height(), 10);

    let sql = frame(
        &run_component(
            &rt,
            "t_sql",
            vec![
                t(),
                ("other", Value::Table(targets())),
                (
                    "query",
                    text(
                        "SELECT t.region, SUM(t.revenue) AS revenue, MAX(other.target) AS target \
                         FROM t JOIN other ON t.region = other.region GROUP BY t.region ORDER BY t.region",
                    ),
                ),
            ],
        )
        .unwrap(),
    );
    assert_eq!(strings(&sql, "region"), ["north", "south"]);
    assert_eq!(floats(&sql, "target"), [Some(15.0), Some(25.0)]);

    assert_eq!(
        run_component(&rt, "t_column_f64", vec![t(), ("column", text("orders"))]).unwrap(),
        Value::from(vec![1.0, 2.0, 3.0, 4.0, 5.0])
    );
    assert_eq!(
        run_component(&rt, "t_column_i64", vec![t(), ("column", text("orders"))]).unwrap(),
        Value::from(vec![1i64, 2, 3, 4, 5])
    );
    assert_eq!(
        run_component(&rt, "t_column_text", vec![t(), ("column", text("region"))]).unwrap(),
        texts(&["north", "south", "north", "east", "south"])
    );
    let flags = Table::from_frame(df!("ok" => [true, false]).unwrap());
    assert_eq!(
        run_component(&rt, "t_column_bool", vec![("t", Value::Table(flags)), ("column", text("ok"))])
            .unwrap(),
        Value::from(vec![true, false])
    );
    let nulls = run_component(&rt, "t_column_f64", vec![t(), ("column", text("revenue"))]).unwrap_err();
    assert!(nulls.contains("1 null value"), "{nulls}");
}

#[test]
fn mistakes_in_operations_are_node_errors_that_say_what_is_wrong() {
    let (_dir, rt) = granted();
    let t = || ("t", Value::Table(sales()));
    let err = run_component(&rt, "t_filter", vec![t(), ("predicate", text("revenu > 0"))]).unwrap_err();
    assert!(err.contains("t_filter") && err.contains("revenu"), "{err}");
    let err = run_component(&rt, "t_filter", vec![t(), ("predicate", text("revenue >"))]).unwrap_err();
    assert!(err.contains("in expression `revenue >`"), "{err}");
    let err = run_component(&rt, "t_column_i64", vec![t(), ("column", text("region"))]).unwrap_err();
    assert!(err.contains("column `region` is str, which cannot be read as i64"), "{err}");
    // Neither expressions nor SQL can reach files.
    let err = run_component(
        &rt,
        "t_filter",
        vec![t(), ("predicate", text("region IN (SELECT token FROM read_csv('secret.csv'))"))],
    )
    .unwrap_err();
    assert!(err.contains("not allowed"), "{err}");
    let err = run_component(
        &rt,
        "t_sql",
        vec![
            t(),
            ("other", Value::Table(targets())),
            ("query", text("SELECT * FROM read_csv('secret.csv')")),
        ],
    )
    .unwrap_err();
    assert!(err.contains("table functions") && !err.contains("hunter2"), "{err}");
    let err = run_component(
        &rt,
        "t_sql",
        vec![t(), ("other", Value::Table(targets())), ("query", text("DROP TABLE t"))],
    )
    .unwrap_err();
    assert!(err.contains("SELECT"), "{err}");
}

#[test]
fn passing_a_table_copies_nothing() {
    let rt = runtime();
    let module = load(&rt, TABLE_NODES);
    let original = sales();
    let before = original.collect().unwrap();
    let buffer = |df: &DataFrame| df.column("orders").unwrap().i64().unwrap().cont_slice().unwrap().as_ptr();

    // Ten component nodes in a chain, then a Rhai node: each receives the handle and passes it on.
    let mut p = Pipeline::new();
    for i in 0..10 {
        let from = if i == 0 { "t".to_string() } else { format!("pass{}", i - 1) };
        p.add_node(module.node("t_pass").unwrap().renamed(&format!("pass{i}")).bind("t", &from).unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rhai"), "fn last(pass9) { pass9 }").unwrap();
    p.add_nodes(Script::load(dir.path().join("p.rhai")).unwrap().nodes());
    p.set_param("t", Value::Table(original.clone()));
    let report = rt.run(&p.plan(&["last"]).unwrap(), RunOptions::new()).unwrap();
    report.check().unwrap();
    let Some(Value::Table(out)) = report.output("last") else { panic!("expected a table") };
    assert!(Table::same(out, &original), "the very same table object came back");
    assert_eq!(buffer(&out.collect().unwrap()), buffer(&before), "the column buffer was never copied");
}

#[test]
fn ipc_round_trip_through_a_guest_keeps_every_value() {
    let rt = runtime();
    let out = run_component(&rt, "t_ipc_roundtrip", vec![("t", Value::Table(sales()))]).unwrap();
    assert!(frame(&out).equals_missing(&sales().collect().unwrap()));
}

#[test]
fn malformed_ipc_from_a_guest_is_a_node_error_not_a_crash() {
    let rt = runtime();
    let valid = weavelet::table::io::to_ipc(&sales(), &[], 1 << 20).unwrap();
    let mut cases: Vec<Vec<u8>> =
        vec![b"not arrow at all".to_vec(), Vec::new(), valid[..valid.len() / 2].to_vec()];
    // Corrupt bytes all over a valid file.
    for step in [7usize, 13, 29, 61] {
        let mut bad = valid.clone();
        for i in (0..bad.len()).step_by(step) {
            bad[i] = bad[i].wrapping_mul(31).wrapping_add(7);
        }
        cases.push(bad);
    }
    for bytes in cases {
        let len = bytes.len();
        match run_component(&rt, "t_bad_ipc", vec![("bytes", Value::Bytes(bytes.into()))]) {
            Err(e) => assert!(e.contains("t_bad_ipc") && e.contains("IPC"), "{len} bytes: {e}"),
            // Corruption in data buffers can still decode; it must then be a real table.
            Ok(v) => assert!(frame(&v).height() <= 5),
        }
    }
}

#[test]
fn case_35_fuzzed_ipc_claiming_huge_buffers_is_refused_before_allocating() {
    // Found by the `ipc` fuzz target: a string-view buffer claiming terabytes made polars
    // allocate it, and the failed allocation aborted the process.
    let fuzzed = crate::common::repo().join("tests/fuzz/regressions");
    let bytes = std::fs::read(fuzzed.join("ipc-huge-binview-buffer.arrow")).unwrap();
    let e = weavelet::table::io::from_ipc(&bytes, 64 << 20).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("malformed Arrow IPC: a buffer of") && e.contains("lies outside its"), "{e}");
    // From a guest, the same bytes fail only that node.
    let rt = runtime();
    let e = run_component(&rt, "t_bad_ipc", vec![("bytes", Value::Bytes(bytes.into()))]).unwrap_err();
    assert!(e.contains("t_bad_ipc") && e.contains("lies outside its"), "{e}");
    // Also found by fuzzing: a datetime outside the calendar panicked when shown.
    let bytes = std::fs::read(fuzzed.join("ipc-datetime-outside-the-calendar.arrow")).unwrap();
    let e = weavelet::table::io::from_ipc(&bytes, 64 << 20).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("values outside the calendar"), "{e}");
    // A valid file still reads.
    let valid = weavelet::table::io::to_ipc(&sales(), &[], 1 << 20).unwrap();
    assert_eq!(weavelet::table::io::from_ipc(&valid, 64 << 20).unwrap().height().unwrap(), 5);
}

#[test]
fn reading_outside_a_granted_folder_is_refused() {
    let (dir, rt) = granted();
    for path in
        ["secret.csv", "../secret.csv", "data/../secret.csv", "/etc/passwd", "data/missing/../../secret.csv"]
    {
        let err = run_component(&rt, "t_read", vec![("path", text(path))]).unwrap_err();
        assert!(err.contains("is not allowed") && !err.contains("hunter2"), "{path}: {err}");
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.path().join("secret.csv"), dir.path().join("data/link.csv")).unwrap();
        let err = run_component(&rt, "t_read", vec![("path", text("data/link.csv"))]).unwrap_err();
        assert!(err.contains("is not allowed"), "a symlink out of the grant: {err}");
    }
    // Without any grant, nothing is readable.
    let err = run_component(&runtime(), "t_read", vec![("path", text("data/sales.csv"))]).unwrap_err();
    assert!(err.contains("granted: none"), "{err}");
    // The same rule holds for scripts.
    std::fs::write(dir.path().join("r.rhai"), "fn r(path) { read_table(path) }").unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(Script::load(dir.path().join("r.rhai")).unwrap().nodes());
    p.set_param("path", text("secret.csv"));
    let err = rt.run(&p.plan(&["r"]).unwrap(), RunOptions::new()).unwrap().check().unwrap_err().to_string();
    assert!(err.contains("is not allowed"), "{err}");
}

#[test]
fn schema_checks_name_the_column_and_the_upstream_node() {
    let rt = runtime();
    let module = load(&rt, TABLE_NODES);
    let run_failure = |p: &Pipeline| {
        let report = rt.run(&p.plan(&["t_needs_columns"]).unwrap(), RunOptions::new()).unwrap();
        report.check().unwrap_err().to_string()
    };
    // At run time: the upstream node's table lacks `revenue`.
    let mut p = Pipeline::new();
    p.add_node(module.node("t_drop").unwrap().renamed("strip"));
    p.add_node(module.node("t_needs_columns").unwrap().bind("t", "strip").unwrap());
    p.set_param("t", Value::Table(sales()));
    p.set_param("columns", texts(&["revenue"]));
    let err = run_failure(&p);
    assert!(err.contains("no column `revenue`") && err.contains("node `strip`"), "{err}");

    // A mistyped column.
    let mut p = Pipeline::new();
    p.add_node(module.node("t_needs_columns").unwrap());
    p.set_param("t", Value::Table(Table::from_frame(df!("region" => [1i64], "revenue" => [1.0]).unwrap())));
    let err = run_failure(&p);
    assert!(err.contains("column `region` is i64, not text") && err.contains("parameter `t`"), "{err}");

    // Before the run: `t_promises` declares columns that lack `revenue`.
    let mut p = Pipeline::new();
    p.add_node(module.node("t_promises").unwrap());
    p.add_node(module.node("t_needs_columns").unwrap().bind("t", "t_promises").unwrap());
    p.set_param("t", Value::Table(sales()));
    let err = plan_error(&p, &["t_needs_columns"]);
    assert!(err.contains("no column `revenue`") && err.contains("node `t_promises`"), "{err}");
}

const RHAI_OPS: &str = r#"
fn ops(t) {
    let out = #{};
    out.schema = t.schema();
    out.columns = t.columns();
    out.height = t.height();
    out.select = t.select(["region", "orders * 2 AS twice"]).columns();
    out.rename = t.rename(#{ region: "area" }).columns();
    out.drop = t.drop(["product"]).columns();
    out.filter = t.filter("revenue > 0 AND region <> 'south'").column("product");
    out.with_column = t.with_column("gross", "ROUND(revenue * 1.2, 1)").head(1).column("gross")[0];
    out.with_columns = t.with_columns(#{ a: "orders + 1", b: "orders - 1" }).columns();
    let g = t.group_by(["region"], #{ s: "sum(revenue)", n: "count(orders)", u: "n_unique(product)",
                                      lo: "min(revenue)", hi: "max(revenue)", m: "mean(orders)",
                                      f: "first(product)", l: "last(product)" });
    out.group_regions = g.column("region");
    out.group_n = g.column("n");
    out.group_f = g.column("f");
    out.group_l = g.column("l");
    out.group_hi = g.drop_nulls(["hi"]).column("hi");
    out.sort = t.sort(["region", "orders"], [false, true]).column("orders");
    out.sort_desc = t.sort_desc("orders").head(1).column("orders");
    out.head = t.head(2).column("orders");
    out.tail = t.tail(2).column("orders");
    out.slice = t.slice(1, 2).column("orders");
    let targets = sql("SELECT region, MAX(orders) * 10 AS target FROM s GROUP BY region", #{ s: t });
    out.join_inner = t.join(targets, "region").height();
    out.join_left = t.join(targets, "region", "left").height();
    out.join_outer = t.join(targets.filter("region = 'north'"), ["region"], ["region"], "outer").height();
    out.drop_nulls = t.drop_nulls().height();
    out.rolling = t.rolling_mean("orders", 2, "r").drop_nulls(["r"]).column("r");
    out.concat = concat([t, t]).height();
    out.sql = sql("SELECT COUNT(*) AS n FROM a WHERE revenue > 0", #{ a: t }).column("n");
    out.to_json()
}
"#;

#[test]
fn every_operation_runs_from_rhai() {
    let (dir, rt) = granted();
    std::fs::write(dir.path().join("ops.rhai"), RHAI_OPS).unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(Script::load(dir.path().join("ops.rhai")).unwrap().nodes());
    p.set_param("t", Value::Table(sales()));
    let report = rt.run(&p.plan(&["ops"]).unwrap(), RunOptions::new()).unwrap();
    report.check().unwrap();
    let Some(Value::Text(json)) = report.output("ops") else { panic!("expected text") };
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let j = |k: &str| v[k].to_string();
    assert_eq!(j("schema"), r#"{"orders":"i64","product":"str","region":"str","revenue":"f64"}"#);
    assert_eq!(j("columns"), r#"["region","product","revenue","orders"]"#);
    assert_eq!(j("height"), "5");
    assert_eq!(j("select"), r#"["region","twice"]"#);
    assert_eq!(j("rename"), r#"["area","product","revenue","orders"]"#);
    assert_eq!(j("drop"), r#"["region","revenue","orders"]"#);
    assert_eq!(j("filter"), r#"["apple"]"#);
    assert_eq!(j("with_column"), "12.6");
    assert_eq!(j("with_columns"), r#"["region","product","revenue","orders","a","b"]"#);
    assert_eq!(j("group_regions"), r#"["north","south","east"]"#);
    assert_eq!(j("group_n"), "[2,2,1]");
    assert_eq!(j("group_f"), r#"["apple","pear","apple"]"#);
    assert_eq!(j("group_l"), r#"["plum","apple","apple"]"#);
    assert_eq!(j("group_hi"), "[10.5,20.0]");
    assert_eq!(j("sort"), "[4,3,1,5,2]");
    assert_eq!(j("sort_desc"), "[5]");
    assert_eq!(j("head"), "[1,2]");
    assert_eq!(j("tail"), "[4,5]");
    assert_eq!(j("slice"), "[2,3]");
    assert_eq!(j("join_inner"), "5");
    assert_eq!(j("join_left"), "5");
    assert_eq!(j("join_outer"), "5");
    assert_eq!(j("drop_nulls"), "4");
    assert_eq!(j("rolling"), "[1.5,2.5,3.5,4.5]");
    assert_eq!(j("concat"), "10");
    assert_eq!(j("sql"), "[3]");
}

#[test]
fn a_scan_followed_by_a_group_by_in_another_node_reads_only_the_used_columns() {
    let (dir, rt) = granted();
    std::fs::write(
        dir.path().join("lazy.rhai"),
        r#"
        fn scan(path) { read_table(path) }
        fn by_region(scan) { scan.group_by(["region"], #{ total: "sum(revenue)" }) }
        fn plan(by_region) { by_region.explain() }
        "#,
    )
    .unwrap();
    let mut p = Pipeline::new();
    p.add_nodes(Script::load(dir.path().join("lazy.rhai")).unwrap().nodes());
    p.set_param("path", text("data/sales.csv"));
    let report = rt.run(&p.plan(&["plan", "by_region"]).unwrap(), RunOptions::new()).unwrap();
    report.check().unwrap();
    let Some(Value::Text(plan)) = report.output("plan") else { panic!("expected text") };
    // The scan reads the file the grant check opened, not its path again.
    assert!(plan.contains("Csv SCAN [open-file]"), "{plan}");
    assert!(
        plan.contains("2/4 COLUMNS") || plan.contains("project: 2/4"),
        "only region and revenue are read:\n{plan}"
    );
    let Some(Value::Table(t)) = report.output("by_region") else { panic!("expected a table") };
    assert!(!t.is_collected(), "nothing was computed while the nodes ran");
    assert_eq!(floats(&t.collect().unwrap(), "total"), [Some(5.5), Some(27.5), Some(0.0)]);
}

#[test]
fn the_analysis_example_gives_the_same_figures_in_rust_and_in_rhai() {
    let out = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for (manifest, file) in [("analysis/weavelet.toml", "rust.csv"), ("analysis/rhai.toml", "rhai.csv")] {
        let saved = out.path().join(file);
        let run = weavelet_cmd()
            .arg("run")
            .arg(examples().join(manifest))
            .arg("--save")
            .arg(format!("stats={}", saved.display()))
            .arg("-q")
            .assert()
            .success();
        let stdout = String::from_utf8_lossy(&run.get_output().stdout).to_string();
        assert!(stdout.contains("valid measurements, mean"), "{stdout}");
        results.push(std::fs::read_to_string(&saved).unwrap());
    }
    // The same rows; means equal up to the order polars' streaming engine sums in.
    let rows = |csv: &str| -> Vec<(String, f64, String)> {
        csv.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].to_string(), f[1].parse().unwrap(), f[2].to_string())
            })
            .collect()
    };
    let (rust, rhai) = (rows(&results[0]), rows(&results[1]));
    assert_eq!(rust.len(), rhai.len(), "{results:?}");
    for (a, b) in rust.iter().zip(&rhai) {
        assert!(a.0 == b.0 && a.2 == b.2 && (a.1 - b.1).abs() <= 1e-9 * a.1.abs(), "{a:?} vs {b:?}");
    }
    let lines: Vec<&str> = results[0].lines().collect();
    assert_eq!(lines[0], "station,mean,count");
    assert_eq!(lines.len(), 5, "one row per station: {lines:?}");
}

#[test]
fn a_scanned_file_crosses_between_workers_as_a_scan_only_to_a_node_that_may_read_it() {
    // `sales` only reads the file: in worker processes its table crosses as
    // the file, and `totals` scans it again, fused with its own work (its plan
    // scans the CSV). A node not granted the folder gets the rows instead.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let mut rows = String::from("region,revenue\n");
    for i in 0..1000 {
        rows.push_str(&format!("r{},{}\n", i % 4, i));
    }
    std::fs::write(dir.path().join("data/sales.csv"), rows).unwrap();
    std::fs::write(
        dir.path().join("s.rhai"),
        "fn sales(path) { read_table(path) }\n\
         fn totals(sales) { sales.group_by(\"region\", #{ t: \"sum(revenue)\" }).sort(\"region\") }\n\
         fn plan(sales) { sales.explain() }\n\
         fn grand(totals) { totals.column(\"t\").reduce(|a, b| a + b, 0) }\n",
    )
    .unwrap();
    let run = |policy: &str| {
        std::fs::write(
            dir.path().join("weavelet.toml"),
            format!(
                "[pipeline]\noutputs = [\"plan\", \"grand\"]\n[[scripts]]\npath = \"s.rhai\"\n\
                 [params]\npath = \"data/sales.csv\"\n{policy}"
            ),
        )
        .unwrap();
        let out = weavelet_cmd().arg("run").arg(dir.path()).arg("-q").assert().success();
        String::from_utf8_lossy(&out.get_output().stdout).to_lowercase()
    };
    let granted = run("[policy]\nread = [\"data\"]\n");
    assert!(granted.contains("grand: 499500"), "{granted}");
    assert!(
        granted.contains("csv") && !granted.contains("ipc"),
        "the consumer scans the CSV itself:\n{granted}"
    );
    // Only `sales` may read the folder: `plan` and `totals` get its rows.
    let producer_only = run("[policy.nodes.sales]\nread = [\"data\"]\n");
    assert!(producer_only.contains("grand: 499500"), "{producer_only}");
    assert!(
        producer_only.contains("ipc") && !producer_only.contains("csv"),
        "a node without the grant must not be handed the file:\n{producer_only}"
    );
}

#[test]
fn a_failed_output_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    // The scan is lazy: the bad row only shows when the output is written.
    let mut rows = String::from("region,revenue\n");
    for i in 0..2000 {
        rows.push_str(&format!("r{},{}\n", i % 7, i));
    }
    rows.push_str("r1,not-a-number\n");
    std::fs::write(dir.path().join("data/big.csv"), rows).unwrap();
    std::fs::write(
        dir.path().join("s.rhai"),
        "fn doubled(path) { read_table(path).with_column(\"x\", \"revenue * 2\") }",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("weavelet.toml"),
        "[[scripts]]\npath = \"s.rhai\"\n[params]\npath = \"data/big.csv\"\n[policy]\nread = [\"data\"]\n\
         [outputs]\ndoubled = \"out/doubled.parquet\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("doubled.parquet"), "previous contents").unwrap();
    // In a worker process (the default) the table is computed before the node
    // returns: the node fails, and the output is not touched.
    let run = weavelet_cmd().arg("run").arg(dir.path()).assert().failure();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    assert!(
        stderr.contains("node `doubled` (s.rhai) failed: its output table could not be computed"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(out.join("doubled.parquet")).unwrap(), "previous contents");
    // In process, the lazy table is first computed while the output is written.
    let manifest = std::fs::read_to_string(dir.path().join("weavelet.toml")).unwrap();
    let in_process = manifest.replace("[policy]\n", "[policy]\nisolation = \"in-process\"\n");
    std::fs::write(dir.path().join("weavelet.toml"), in_process).unwrap();
    let run = weavelet_cmd().arg("run").arg(dir.path()).assert().failure();
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    assert!(stderr.contains("could not write the output of `doubled`"), "{stderr}");
    let left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["doubled.parquet"], "no temporary file is left");
    assert_eq!(std::fs::read_to_string(out.join("doubled.parquet")).unwrap(), "previous contents");

    // Fixed data: the file is replaced whole, and reads back.
    std::fs::write(dir.path().join("data/big.csv"), "region,revenue\nr1,1\nr2,2\n").unwrap();
    weavelet_cmd().arg("run").arg(dir.path()).arg("-q").assert().success();
    let back = weavelet::table::io::read(
        &weavelet::ReadGrants::new(out.clone(), vec![out.canonicalize().unwrap()]),
        &weavelet::ReadLog::new(),
        "doubled.parquet",
    )
    .unwrap();
    assert_eq!(floats(&back.collect().unwrap(), "x"), [Some(2.0), Some(4.0)]);
}

#[test]
fn a_node_holding_too_many_handles_fails_alone() {
    let rt = runtime();
    let err = run_component(&rt, "t_handle_flood", vec![("t", Value::Table(sales()))]).unwrap_err();
    assert!(err.contains("t_handle_flood") && err.contains("10000 handles (tables, SVGs, images)"), "{err}");
}
