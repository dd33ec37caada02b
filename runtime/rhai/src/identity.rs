//! A Rhai node's code identity for the result cache: the tokens of its
//! function, of every script function it may call (directly or through
//! others, by name or by a string naming it), and of the script's top-level
//! statements. Comments and layout do not count.

use weavelet_core::key::{Digest, KeyHasher};

/// The identity of a Rhai node: the tokens of its function, of every
/// script function it may call (directly or through others, by name or by a
/// string naming it), and of the script's top-level statements. Comments and
/// layout do not count, so editing one function's documentation or another
/// function's body leaves this node's results in the cache.
pub(crate) fn script_identities(source: &str) -> rustc_hash::FxHashMap<String, Digest> {
    let tokens = rhai_tokens(source);
    // Split the tokens into functions (`fn name(...) { ... }`, with `private`)
    // and the rest.
    let mut functions: Vec<(String, Vec<&str>)> = Vec::new();
    let mut top: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let start = if tokens[i] == "private" && tokens.get(i + 1) == Some(&"fn") { i + 1 } else { i };
        if tokens[start] == "fn" && start + 1 < tokens.len() {
            let name = tokens[start + 1].to_string();
            let mut j = start + 2;
            let mut depth = 0usize;
            let mut opened = false;
            while j < tokens.len() {
                match tokens[j] {
                    "{" => {
                        depth += 1;
                        opened = true;
                    }
                    "}" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                j += 1;
                if opened && depth == 0 {
                    break;
                }
            }
            functions.push((name, tokens[i..j].to_vec()));
            i = j;
        } else {
            top.push(tokens[i]);
            i += 1;
        }
    }
    // Each name's bodies (overloads share a name), joined once.
    let mut bodies: rustc_hash::FxHashMap<&str, Vec<String>> = rustc_hash::FxHashMap::default();
    for (name, body) in &functions {
        bodies.entry(name.as_str()).or_default().push(body.join(" "));
    }
    // The functions each one names (or may reach through a computed name: all of them).
    let mut calls: rustc_hash::FxHashMap<&str, Vec<&str>> = rustc_hash::FxHashMap::default();
    for (name, body) in &functions {
        let named = calls.entry(name.as_str()).or_default();
        if calls_a_computed_name(body) {
            named.extend(bodies.keys().copied());
            continue;
        }
        for t in body {
            let word = t.trim_matches(|c| c == '"' || c == '\'' || c == '`');
            if let Some((&known, _)) = bodies.get_key_value(word) {
                named.push(known);
            }
        }
    }
    let mut ids = rustc_hash::FxHashMap::default();
    for name in bodies.keys().copied() {
        // Every function reachable from this one.
        let mut reached: Vec<&str> = vec![name];
        let mut seen: rustc_hash::FxHashSet<&str> = [name].into_iter().collect();
        let mut k = 0;
        while k < reached.len() {
            for &next in calls.get(reached[k]).map_or(&[][..], Vec::as_slice) {
                if seen.insert(next) {
                    reached.push(next);
                }
            }
            k += 1;
        }
        reached[1..].sort_unstable();
        let mut h = KeyHasher::new("rhai-node");
        for f in &reached {
            for body in bodies.get(f).map_or(&[][..], Vec::as_slice) {
                h.field("fn", body.as_bytes());
            }
        }
        h.field("top", top.join(" ").as_bytes());
        ids.insert(name.to_string(), h.finish());
    }
    ids
}

/// Whether `body` calls a function through a name computed at run time:
/// `Fn(...)` or `call(...)` whose first argument is not one plain string (a
/// method `f.call(x)` calls a function pointer made by `Fn`, checked there).
fn calls_a_computed_name(body: &[&str]) -> bool {
    body.windows(2).enumerate().any(|(i, w)| {
        let method = i > 0 && body[i - 1] == ".";
        if !(matches!(w[0], "Fn" | "call") && w[1] == "(") || method {
            return false;
        }
        let literal = body.get(i + 2).is_some_and(|t| {
            (t.starts_with('"') || (t.starts_with('`') && !t.contains("${"))) && t.len() >= 2
        });
        !(literal && body.get(i + 3).is_some_and(|t| matches!(*t, ")" | ",")))
    })
}

/// Rhai source as tokens: identifiers and numbers, string and character
/// literals (whole), and single punctuation characters; comments (nested
/// block comments too) and white space dropped.
fn rhai_tokens(source: &str) -> Vec<&str> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if source[i..].starts_with("//") {
            i = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
        } else if source[i..].starts_with("/*") {
            let mut depth = 0usize;
            while i < bytes.len() {
                if source[i..].starts_with("/*") {
                    depth += 1;
                    i += 2;
                } else if source[i..].starts_with("*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'"' || c == b'`' || c == b'\'' {
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i] != c {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
            tokens.push(&source[start..i]);
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
            {
                i += 1;
            }
            tokens.push(&source[start..i]);
        } else {
            // One punctuation character (always ASCII here).
            tokens.push(&source[i..i + 1]);
            i += 1;
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = r#"
/// The base.
fn base(n) { _scale(n) }
fn _scale(n) { n * 2 }
fn other(x) { x + 1 } // a comment
fn uses_string(x) { call("other", x) }
"#;

    #[test]
    fn a_node_depends_on_its_helpers_and_nothing_else() {
        let before = script_identities(SCRIPT);
        // Editing a helper changes the node that calls it, not the others.
        let edited = script_identities(&SCRIPT.replace("n * 2", "n * 3"));
        assert_ne!(before["base"], edited["base"]);
        assert_eq!(before["other"], edited["other"]);
        // Comments and layout do not count.
        let relaid = script_identities(
            &SCRIPT.replace("/// The base.", "/// Base, doubled.").replace("x + 1 }", "x  +  1\n}"),
        );
        assert_eq!(before, relaid);
        // A function named in a string counts as called.
        let edited = script_identities(&SCRIPT.replace("x + 1", "x + 2"));
        assert_ne!(before["uses_string"], edited["uses_string"]);
        assert_ne!(before["other"], edited["other"]);
        assert_eq!(before["base"], edited["base"]);
    }

    #[test]
    fn a_node_calling_through_a_computed_name_depends_on_every_function() {
        let script = format!(
            "{SCRIPT}\nfn computed(x) {{ let f = Fn(\"_sc\" + \"ale\"); f.call(x) }}\n\
             fn computed_call(x) {{ call(`_${{\"scale\"}}`, x) }}\nfn plain(x) {{ Fn(\"other\").call(x) }}\n"
        );
        let before = script_identities(&script);
        let edited = script_identities(&script.replace("n * 2", "n * 3"));
        // `_scale` is reached only through computed names: still part of the identity.
        assert_ne!(before["computed"], edited["computed"]);
        assert_ne!(before["computed_call"], edited["computed_call"]);
        // A literal name is followed as before, and nothing else is added.
        assert_eq!(before["plain"], edited["plain"]);
    }
}
