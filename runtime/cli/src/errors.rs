//! Library errors, failures and reasons as a command-line user reads them:
//! where the library says "set parameter `count`", the CLI says which flag
//! does it (`--param count=<int>`); where it says "grant it in the node's
//! policy", which manifest key. The only place that maps the library's
//! concepts to flags.

use weavelet::{Diagnostic, Error, FailureKind, Fix, NodeFailure, NodeRole, Reason};

/// An error as the CLI prints it (after `error: `).
pub fn error(err: &anyhow::Error) -> String {
    match err.downcast_ref::<Error>() {
        Some(e) => library_error(e),
        None => format!("{err:#}"),
    }
}

/// A library error as the CLI prints it.
pub fn library_error(err: &Error) -> String {
    match err {
        Error::Plan(diagnostics) => weavelet::error::plan_message(diagnostics, diagnostic),
        Error::Manifest { path, diagnostic: d } => format!("{}: {}", path.display(), diagnostic(d)),
        Error::Script(d) | Error::Build(d) | Error::NotPrepared(d) | Error::Store(d) => diagnostic(d),
        Error::UnknownNode { name, role, planned, suggestion, known } => {
            let flag = flag(*role);
            if *planned {
                let hint = suggestion.as_ref().map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
                format!("{flag} {name}: no node `{name}` is planned in this run{hint}")
            } else {
                let hint = suggestion.as_ref().map_or_else(
                    || format!("its nodes: {}", weavelet::error::names(known.iter().map(String::as_str))),
                    |s| format!("did you mean `{s}`?"),
                );
                format!("{flag} {name}: the pipeline has no node `{name}` ({hint})")
            }
        }
        Error::WrongType { node, expected, given } => {
            format!("--override {node}: node `{node}` outputs {expected}, but the value given is {given}")
        }
        Error::NeedsCache => "--from and --only need the result cache".into(),
        Error::Run(failures) => weavelet::error::run_message(failures, failure),
        other => other.to_string(),
    }
}

fn flag(role: NodeRole) -> &'static str {
    match role {
        NodeRole::Override => "--override",
        NodeRole::Recompute => "--from",
        NodeRole::Only => "--only",
    }
}

/// A diagnostic with its help, the fix spelled in flags and manifest keys.
fn diagnostic(d: &Diagnostic) -> String {
    let mut s = match d.at.as_deref().and_then(located) {
        Some((place, snippet)) => format!("{place}: {}\n{snippet}", d.message),
        None => d.message.clone(),
    };
    if let Some(help) = help(d) {
        s.push_str("\nhelp: ");
        s.push_str(&help);
    }
    s
}

fn help(d: &Diagnostic) -> Option<String> {
    let Some(fix) = &d.fix else { return d.help.clone() };
    Some(match &**fix {
        Fix::SetParam { name, ty } => format!("pass --param {name}={}", ty.placeholder()),
        Fix::ProvideInput { name, ty, did_you_mean } => {
            let provide = format!("add a node named `{name}` or pass --param {name}={}", ty.placeholder());
            match did_you_mean {
                Some(close) => format!("did you mean `{close}`? otherwise {provide}"),
                None => provide,
            }
        }
        Fix::Grant { node, capability } => format!(
            "to grant it, add `{}` under [policy.nodes.{node}] in weavelet.toml (or under [policy] for every node)",
            weavelet::manifest::grant_syntax(capability)
        ),
        Fix::NewProject { language } => {
            format!("`weavelet new NAME --lang {language}` makes a project to start from")
        }
        Fix::ChooseLanguage => "say which with --lang".into(),
        Fix::ClearCache { dir } => {
            format!("run `weavelet cache clear --cache-dir {}` or use another --cache-dir", dir.display())
        }
        _ => return d.help.clone(),
    })
}

/// A node failure as the CLI prints it.
pub fn failure(f: &NodeFailure) -> String {
    match &f.kind {
        FailureKind::NotSelected { why } => format!(
            "node `{0}` ({1}) failed: --only does not run it, and its result cannot come from the cache ({why}); \
             run without --only first, add --only {0}, or give its value with --override {0}=VALUE",
            f.node, f.source
        ),
        _ => f.to_string(),
    }
}

/// Why a node would run (a dry run), in the flags that cause it.
pub fn reason(r: &Reason) -> String {
    match r {
        Reason::Given => "given with --override".into(),
        Reason::CacheOff => "the cache is off (--no-cache)".into(),
        Reason::Recompute => "forced by --from".into(),
        Reason::NotSelected(why) => {
            format!("{}; --only does not run it, so the run would fail here", reason(why))
        }
        other => other.to_string(),
    }
}

/// Where `span` points, as `file:line:column` (the file relative to the
/// current folder when under it), and the source line with the text underlined.
/// `None` when the file cannot be read any more.
pub fn located(span: &weavelet::SourceSpan) -> Option<(String, String)> {
    let src = std::fs::read_to_string(&span.file).ok()?;
    let (line, column, width) = position_in(span, &src)?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let file = span.file.strip_prefix(&cwd).unwrap_or(&span.file);
    Some((format!("{}:{line}:{column}", file.display()), weavelet::snippet(&src, line, column, width)))
}

/// The line, column (from 1) and width of `span`'s text, reading its file.
pub fn position(span: &weavelet::SourceSpan) -> Option<(usize, usize, usize)> {
    position_in(span, &std::fs::read_to_string(&span.file).ok()?)
}

/// The line, column (from 1) and width of `span`'s text in `src`: the first
/// place on its line where it stands as a whole word, else the line's start.
fn position_in(span: &weavelet::SourceSpan, src: &str) -> Option<(usize, usize, usize)> {
    let text = src.lines().nth(span.line.saturating_sub(1))?;
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let found = text.match_indices(span.text.as_str()).find(|(i, _)| {
        !word(text[..*i].chars().next_back()) && !word(text[i + span.text.len()..].chars().next())
    });
    Some(match found {
        Some((i, _)) => (span.line, text[..i].chars().count() + 1, span.text.chars().count()),
        None => (span.line, 1, 1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_are_spelled_as_flags_and_manifest_keys() {
        let d = Diagnostic::new("parameter `count`: `ten` is not an int")
            .with_help("set parameter `count` to <int>")
            .with_fix(Fix::SetParam { name: "count".into(), ty: weavelet::ValueType::Int });
        assert_eq!(diagnostic(&d), "parameter `count`: `ten` is not an int\nhelp: pass --param count=<int>");
        let d = Diagnostic::new("node `n` (x.wasm) requests `clock`, which the pipeline does not grant")
            .with_fix(Fix::Grant { node: "n".into(), capability: weavelet::Capability::Clock });
        assert!(diagnostic(&d).contains("add `clock = true` under [policy.nodes.n] in weavelet.toml"));
        assert_eq!(
            reason(&Reason::NotSelected(Box::new(Reason::Recompute))),
            "forced by --from; --only does not run it, so the run would fail here"
        );
    }
}
