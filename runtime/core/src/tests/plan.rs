//! The planner: resolution by name, every diagnostic, cycles with their
//! path, and which nodes a request selects.

use super::*;
use crate::{Capability, Fix};

fn messages(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics.iter().map(|d| d.message.clone()).collect()
}

#[test]
fn inputs_bind_to_the_node_or_parameter_of_their_name() {
    let mut p = pipeline(vec![sum("a", &["x"]), sum("b", &["a"]), sum("c", &["a", "b"])]);
    p.set_param("x", Value::Int(1));
    let plan = p.plan(&["c"]).unwrap();
    // Dependency order: every node after its inputs.
    assert_eq!(plan.node_names().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(plan.targets().collect::<Vec<_>>(), ["c"]);
    assert!(plan.warnings().is_empty());
}

#[test]
fn a_binding_can_point_an_input_elsewhere() {
    let mut p = pipeline(vec![sum("a", &["x"]), sum("b", &["x"]).bind("x", "a").unwrap()]);
    p.set_param("x", Value::Int(1));
    assert_eq!(p.plan(&["b"]).unwrap().node_names().collect::<Vec<_>>(), ["a", "b"]);
    let err = sum("b", &["x"]).bind("nope", "a").err().unwrap().to_string();
    assert_eq!(err, "node `b` has no input `nope` (its inputs: `x`)");
}

#[test]
fn an_optional_input_that_nothing_feeds_is_null() {
    let n = typed("n", vec![InputDecl::optional("maybe", ValueType::Int)], ValueType::Any, |_, v| {
        Ok(v[0].clone())
    });
    let plan = pipeline(vec![n]).plan(&[]).unwrap();
    assert_eq!(plan.len(), 1);
}

#[test]
fn only_what_the_requested_outputs_need_is_planned() {
    let mut p = pipeline(vec![sum("a", &["x"]), sum("b", &["a"]), sum("c", &["x"]), sum("d", &["c"])]);
    p.set_param("x", Value::Int(0));
    assert_eq!(p.plan(&["b"]).unwrap().node_names().collect::<Vec<_>>(), ["a", "b"]);
    // No request: every sink (a node nothing reads), in pipeline order.
    let all = p.plan(&[]).unwrap();
    assert_eq!(all.targets().collect::<Vec<_>>(), ["b", "d"]);
    assert_eq!(all.len(), 4);
    // The pipeline's default outputs come before the sinks.
    p.set_default_outputs(vec!["c".into()]);
    assert_eq!(p.plan(&[]).unwrap().node_names().collect::<Vec<_>>(), ["c"]);
    // A node requested twice is planned once.
    assert_eq!(p.plan(&["a", "a"]).unwrap().targets().count(), 1);
}

#[test]
fn a_cycle_is_reported_with_its_whole_path_in_data_flow_order() {
    let mut p = pipeline(vec![sum("a", &["c"]), sum("b", &["a"]), sum("c", &["b"]), sum("out", &["c", "x"])]);
    p.set_param("x", Value::Int(0));
    let errors = plan_errors(&p, &["out"]);
    assert_eq!(messages(&errors), ["dependency cycle: a → b → c → a"]);
    assert!(errors[0].help.as_deref().unwrap_or_default().contains("break the cycle"));
    // A node reading itself.
    let errors = plan_errors(&pipeline(vec![sum("me", &["me"])]), &[]);
    assert_eq!(messages(&errors), ["dependency cycle: me → me"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut p = pipeline(vec![sum("a", &["x"]), sum("a", &["y"]), sum("b", &["a"])]);
    p.set_param("b", Value::Int(1));
    let errors = messages(&plan_errors(&p, &["b", "nope"]));
    assert_eq!(
        errors,
        [
            "two nodes are named `a`: one from test.rs, one from test.rs",
            "parameter `b` has the same name as node `b` from test.rs",
            "no node is named `nope`, so it cannot be an output",
        ]
    );
    let errors = plan_errors(&Pipeline::new(), &[]);
    assert_eq!(messages(&errors), ["the pipeline has no nodes"]);
}

#[test]
fn a_missing_input_suggests_a_close_name_and_how_to_provide_it() {
    let mut p = pipeline(vec![sum("readings", &["count"]), sum("total", &["readngs"])]);
    p.set_param("count", Value::Int(3));
    let errors = plan_errors(&p, &["total"]);
    assert_eq!(
        messages(&errors),
        ["node `total` (test.rs) needs `readngs` (any), but no node or parameter is called `readngs`"]
    );
    assert_eq!(
        errors[0].help.as_deref(),
        Some(
            "did you mean `readings`? otherwise add a node named `readngs` or set parameter `readngs` to <value>"
        )
    );
    assert_eq!(
        errors[0].fix.as_deref(),
        Some(&Fix::ProvideInput {
            name: "readngs".into(),
            ty: ValueType::Any,
            did_you_mean: Some("readings".into())
        })
    );
    let errors = plan_errors(&pipeline(vec![sum("total", &["zzz"])]), &[]);
    assert_eq!(errors[0].help.as_deref(), Some("add a node named `zzz` or set parameter `zzz` to <value>"));
}

#[test]
fn an_unknown_output_suggests_a_close_name() {
    let p = pipeline(vec![sum("report", &[])]);
    let errors = plan_errors(&p, &["reprot"]);
    assert_eq!(errors[0].help.as_deref(), Some("did you mean `report`?"));
}

#[test]
fn types_are_checked_between_nodes_and_against_parameters() {
    let text = |name: &str| typed(name, vec![], ValueType::Text, |_, _| Ok(Value::from("t")));
    let wants_int = |name: &str, input: &str| {
        typed(name, vec![InputDecl::required(input, ValueType::Int)], ValueType::Int, |_, _| {
            Ok(Value::Int(0))
        })
    };
    let errors = plan_errors(&pipeline(vec![text("words"), wants_int("n", "words")]), &["n"]);
    assert_eq!(
        messages(&errors),
        [
            "type mismatch: node `words` (test.rs) outputs text, but input `words` of node `n` (test.rs) expects int"
        ]
    );
    // An int feeds a float input (widened on the way).
    let wants_float =
        typed("f", vec![InputDecl::required("i", ValueType::Float)], ValueType::Float, |_, v| {
            Ok(v[0].clone())
        });
    let ints = typed("i", vec![], ValueType::Int, |_, _| Ok(Value::Int(2)));
    assert!(pipeline(vec![ints, wants_float]).plan(&["f"]).is_ok());

    let mut p = pipeline(vec![wants_int("n", "count")]);
    p.set_param("count", Value::from("ten"));
    let errors = plan_errors(&p, &["n"]);
    assert_eq!(
        messages(&errors),
        ["type mismatch: parameter `count` is text (ten), but input `count` of node `n` expects int"]
    );
}

#[test]
fn parameters_given_as_text_are_parsed_as_their_input_declares() {
    let wants_int = typed("n", vec![InputDecl::required("count", ValueType::Int)], ValueType::Int, |_, v| {
        Ok(v[0].clone())
    });
    let mut p = pipeline(vec![wants_int]);
    p.set_param_text("count", "12");
    assert!(p.plan(&["n"]).is_ok());
    p.set_param_text("count", "ten");
    let errors = plan_errors(&p, &["n"]);
    assert_eq!(
        messages(&errors),
        ["parameter `count`: `ten` is not an int, but input `count` of node `n` expects int"]
    );
    assert_eq!(errors[0].help.as_deref(), Some("set parameter `count` to <int>"));
    assert_eq!(errors[0].fix.as_deref(), Some(&Fix::SetParam { name: "count".into(), ty: ValueType::Int }));
}

#[test]
fn a_required_parameter_must_be_given() {
    let mut p = pipeline(vec![sum("n", &["threshold"])]);
    p.require_param("threshold", ValueType::Float);
    let errors = plan_errors(&p, &[]);
    assert_eq!(
        messages(&errors),
        ["missing required parameter `threshold` (float), needed by input `threshold` of node `n`"]
    );
    assert_eq!(
        errors[0].fix.as_deref(),
        Some(&Fix::SetParam { name: "threshold".into(), ty: ValueType::Float })
    );
    p.set_param("threshold", Value::Float(0.5));
    assert!(p.plan(&[]).is_ok());
}

#[test]
fn an_unused_parameter_is_a_warning_with_a_suggestion() {
    let mut p = pipeline(vec![sum("n", &["count"])]);
    p.set_param("count", Value::Int(1));
    p.set_param("coutn", Value::Int(1));
    let plan = p.plan(&[]).unwrap();
    assert_eq!(messages(plan.warnings()), ["parameter `coutn` is not an input of any node"]);
    assert_eq!(plan.warnings()[0].help.as_deref(), Some("did you mean `count`?"));
}

#[test]
fn promised_and_required_columns_are_compared_before_running() {
    let mut producer = NodeDecl::new("sales", vec![], ValueType::Table);
    producer.output_columns = vec![("region".into(), "text".into())];
    let producer = Node::new(
        Arc::new(producer),
        "p.rs".into(),
        Arc::new(TestNode { body: Box::new(|_, _| Ok(Value::Null)), identity: [1; 32] }),
    );
    let consumer = typed(
        "totals",
        vec![InputDecl::required("sales", ValueType::Table).with_columns(&[("revenue", "number")])],
        ValueType::Table,
        |_, v| Ok(v[0].clone()),
    );
    let errors = plan_errors(&pipeline(vec![producer, consumer]), &["totals"]);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .message
            .starts_with("schema mismatch: input `sales` of node `totals` needs columns node `sales`"),
        "{}",
        errors[0].message
    );
}

#[test]
fn a_capability_the_policy_does_not_grant_stops_the_plan() {
    let mut decl = NodeDecl::new("snoop", vec![], ValueType::Text);
    decl.capabilities = vec![Capability::Env("HOME".into()), Capability::Clock];
    let code = Arc::new(TestNode { body: Box::new(|_, _| Ok(Value::Null)), identity: [2; 32] });
    let snoop = Node::new(Arc::new(decl), "s.wasm".into(), code);
    let errors = plan_errors(&pipeline(vec![snoop.clone()]), &[]);
    assert_eq!(
        messages(&errors),
        [
            "node `snoop` (s.wasm) requests `env HOME`, which the pipeline does not grant",
            "node `snoop` (s.wasm) requests `clock`, which the pipeline does not grant",
        ]
    );
    assert_eq!(
        errors[1].fix.as_deref(),
        Some(&Fix::Grant { node: "snoop".into(), capability: Capability::Clock })
    );
    let mut granted = crate::Policy::default();
    granted.grants.env = vec!["HOME".into()];
    granted.grants.clock = true;
    assert!(pipeline(vec![snoop.with_policy(granted)]).plan(&[]).is_ok());
}

#[test]
fn an_overridden_node_needs_nothing_upstream() {
    let mut p = pipeline(vec![sum("a", &["missing"]), sum("b", &["a"])]);
    assert!(p.plan(&["b"]).is_err());
    p.override_node("a", Value::Int(41)).unwrap();
    assert_eq!(p.plan(&["b"]).unwrap().node_names().collect::<Vec<_>>(), ["a", "b"]);
    match p.override_node("b2", Value::Int(1)) {
        Err(Error::UnknownNode { suggestion, .. }) => assert_eq!(suggestion.as_deref(), Some("b")),
        other => panic!("{other:?}"),
    }
    let int = typed("i", vec![], ValueType::Int, |_, _| Ok(Value::Int(1)));
    let mut p = pipeline(vec![int]);
    assert!(matches!(p.override_node("i", Value::from("x")), Err(Error::WrongType { .. })));
}

#[test]
fn planning_a_hundred_thousand_node_chain_does_not_recurse() {
    let n = 100_000;
    let mut nodes = vec![sum("n0", &["x"])];
    let names: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    for i in 1..n {
        nodes.push(sum(&names[i], &[names[i - 1].as_str()]));
    }
    let mut p = pipeline(nodes);
    p.set_param("x", Value::Int(0));
    let plan = p.plan(&[names[n - 1].as_str()]).unwrap();
    assert_eq!(plan.len(), n);
}
