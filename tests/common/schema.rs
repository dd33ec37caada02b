//! A JSON Schema checker for the subset `runtime/cli/schemas/` uses: `type`
//! (one or several), `properties`, `required`, `additionalProperties`,
//! `items`, `enum`, `const`, `anyOf`, `oneOf`, `minimum`, `pattern` (only
//! `^[0-9a-f]{N}$`), and `$ref` to `#/$defs/...`. Anything else in a schema
//! is refused, so a schema cannot silently ask for more than is checked.

use serde_json::Value;

/// The schema `name` (`run`, `check`, ...) from runtime/cli/schemas.
pub fn schema(name: &str) -> Value {
    let path = super::repo().join("runtime/cli/schemas").join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Panic, naming every place where `doc` does not match schema `name`.
pub fn assert_matches(name: &str, doc: &Value) {
    let problems = check(name, doc);
    assert!(
        problems.is_empty(),
        "the output does not match {name}.schema.json:\n{}\n{doc:#}",
        problems.join("\n")
    );
}

/// Where `doc` does not match schema `name`, one line each.
pub fn check(name: &str, doc: &Value) -> Vec<String> {
    let root = schema(name);
    let mut problems = Vec::new();
    walk(&root, &root, doc, "$", &mut problems);
    problems
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        other => panic!("unknown type `{other}` in a schema"),
    }
}

fn walk(root: &Value, schema: &Value, v: &Value, at: &str, problems: &mut Vec<String>) {
    let Some(s) = schema.as_object() else { panic!("a schema at {at} is not an object: {schema}") };
    for key in s.keys() {
        let known = [
            "$schema",
            "$id",
            "$defs",
            "title",
            "description",
            "type",
            "properties",
            "required",
            "additionalProperties",
            "items",
            "enum",
            "const",
            "anyOf",
            "oneOf",
            "minimum",
            "pattern",
            "$ref",
        ];
        assert!(known.contains(&key.as_str()), "a schema uses `{key}`, which this checker does not check");
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unsupported $ref {r}"));
        walk(root, &root["$defs"][name], v, at, problems);
    }
    if let Some(ty) = s.get("type") {
        let ok = match ty {
            Value::String(t) => type_ok(t, v),
            Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap_or_default(), v)),
            _ => panic!("bad type in a schema"),
        };
        if !ok {
            problems.push(format!("{at}: {v} is not of type {ty}"));
            return;
        }
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        problems.push(format!("{at}: {v} is not one of {}", Value::Array(values.clone())));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        problems.push(format!("{at}: {v} is not {c}"));
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        problems.push(format!("{at}: {n} is below {min}"));
    }
    if let (Some(p), Some(text)) = (s.get("pattern").and_then(Value::as_str), v.as_str()) {
        let digits: usize = p
            .strip_prefix("^[0-9a-f]{")
            .and_then(|r| r.strip_suffix("}$"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unsupported pattern {p}"));
        if text.len() != digits || !text.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
            problems.push(format!("{at}: `{text}` does not match {p}"));
        }
    }
    for (key, one) in [("anyOf", false), ("oneOf", true)] {
        if let Some(options) = s.get(key).and_then(Value::as_array) {
            let matching = options
                .iter()
                .filter(|o| {
                    let mut p = Vec::new();
                    walk(root, o, v, at, &mut p);
                    p.is_empty()
                })
                .count();
            if matching == 0 || (one && matching > 1) {
                problems.push(format!("{at}: {matching} of the {key} options match {v}"));
            }
        }
    }
    if let Some(map) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for name in s.get("required").and_then(Value::as_array).into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !map.contains_key(name) {
                problems.push(format!("{at}: `{name}` is missing"));
            }
        }
        for (key, value) in map {
            let here = format!("{at}.{key}");
            match (props.and_then(|p| p.get(key)), s.get("additionalProperties")) {
                (Some(sub), _) => walk(root, sub, value, &here, problems),
                (None, Some(Value::Bool(false))) => problems.push(format!("{here}: not in the schema")),
                (None, Some(sub @ Value::Object(_))) => walk(root, sub, value, &here, problems),
                (None, _) => {}
            }
        }
    }
    if let (Some(items), Some(list)) = (s.get("items"), v.as_array()) {
        for (i, item) in list.iter().enumerate() {
            walk(root, items, item, &format!("{at}[{i}]"), problems);
        }
    }
}
