//! Python node modules: `nodes.py` and the SDK (`weavelet.py`) made one
//! component by componentize-py, CPython included and initialised at build time.

use std::process::Command;

use super::{Build, StepSink};
use weavelet_core::Error;

pub(super) const INSTALL: &str = "Install componentize-py from PyPI: pip install componentize-py==0.25.1 \
     (where pip refuses to install into the system Python: python3 -m venv ~/.cache/weavelet/venv && \
     ~/.cache/weavelet/venv/bin/pip install componentize-py==0.25.1, then put ~/.cache/weavelet/venv/bin on PATH). \
     COMPONENTIZE_PY=/path/to/componentize-py names another copy.";

pub(super) fn build(b: &Build<'_>, on_step: StepSink<'_>) -> Result<(), Error> {
    let tool = super::tool("COMPONENTIZE_PY", "componentize-py");
    let mut command = Command::new(tool);
    // An active virtualenv's site-packages would be packed into the component.
    command
        .current_dir(b.work)
        .env_remove("VIRTUAL_ENV")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg("-d")
        .arg(b.support.join("python-wit"))
        .args(["-w", "python-module", "componentize", "nodes", "-p"])
        .arg(b.dir)
        .arg("-p")
        .arg(b.support.join("python"))
        .arg("-o")
        .arg(b.out);
    b.run(on_step, command)
}
