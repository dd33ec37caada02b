//! The store as the scheduler sees it: `weavelet_core::ResultCache`.

use std::path::Path;

use weavelet_core::cache::{DepKind, NewEntry, Parts, ResultCache, RunId, RunPlanRecord, Stored};
use weavelet_core::{Error, NodeRecord, Value, codec};

use crate::{Digest, ResultStore};

impl ResultCache for ResultStore {
    fn begin_run(&self, origin: &str, description: &str, plan: &RunPlanRecord) -> Result<RunId, Error> {
        let run = ResultStore::begin_run(self, origin, description)?;
        self.record_plan(run, plan)?;
        Ok(run)
    }

    fn end_run(&self, run: RunId, ok: bool) {
        // The history is a record, not the result: a store that cannot be
        // written loses lines, never the outputs.
        let _ = ResultStore::end_run(self, run, ok);
    }

    fn record(&self, run: RunId, node: &NodeRecord) {
        let _ = ResultStore::record(self, run, std::slice::from_ref(node));
    }

    fn lookup(&self, key: &Digest) -> Result<Option<Stored>, Error> {
        Ok(ResultStore::lookup(self, key)?)
    }

    fn check(&self, entry: &Stored) -> Result<(), String> {
        self.present(entry)
    }

    fn load(&self, entry: &Stored) -> Result<Value, String> {
        ResultStore::load(self, entry)
    }

    fn store(&self, entry: &NewEntry<'_>, value: &Value) -> Result<u64, String> {
        let bytes = codec::encode(value)?;
        if let Value::Svg(svg) = value {
            // A document is stored as text; make sure it reads back byte for byte.
            match codec::decode(&bytes) {
                Ok(Value::Svg(back)) if back.to_text() == svg.to_text() => {}
                _ => return Err("the document does not read back as it was written".into()),
            }
        }
        self.put(entry, &bytes, codec::kind(value)).map_err(|e| e.to_string())?;
        Ok(bytes.len() as u64)
    }

    fn remove(&self, key: &Digest) {
        let _ = ResultStore::remove(self, key);
    }

    fn touch(&self, keys: &[Digest]) {
        let _ = ResultStore::touch(self, keys);
    }

    fn fingerprint(&self, kind: DepKind, path: &Path) -> Result<String, String> {
        ResultStore::fingerprint(self, kind, path)
    }

    fn latest_parts(&self, origin: &str, node: &str) -> Option<Parts> {
        ResultStore::latest_parts(self, origin, node)
    }
}
