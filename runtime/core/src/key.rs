//! Hashing for cache keys: labelled SHA-256 fields, file hashes, value identities.
//!
//! A node's key covers Weavelet's version, the node's code identity (a
//! component's content hash and the node's name; a script function's tokens
//! and those of the helpers it calls), the grants that change what it
//! computes (environment values, clock, randomness, folders), and for each
//! input the *identity* of the value it receives: an upstream node's output
//! id, or a parameter's encoded bytes. An output id is the key plus the
//! content of the files the node read, so nothing downstream ever hashes
//! table data whose lineage is known.

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// Builds a digest from labelled, length-prefixed fields, so no two field
/// sequences hash alike.
pub struct KeyHasher(Sha256);

impl KeyHasher {
    /// A hasher for one kind of digest (`"node"`, `"output"`, ...).
    pub fn new(domain: &str) -> KeyHasher {
        let mut h = KeyHasher(Sha256::new());
        h.field("weavelet", env!("CARGO_PKG_VERSION").as_bytes());
        h.field("domain", domain.as_bytes());
        h
    }

    /// Add one labelled field.
    pub fn field(&mut self, label: &str, bytes: &[u8]) -> &mut Self {
        self.0.update((label.len() as u64).to_le_bytes());
        self.0.update(label.as_bytes());
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// The digest.
    pub fn finish(self) -> Digest {
        self.0.finalize().into()
    }
}

/// Lowercase hex of a digest.
pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A digest from its hex (as `hex` writes it); `None` for anything else.
pub fn from_hex(text: &str) -> Option<Digest> {
    if text.len() != 64 {
        return None;
    }
    let mut d = [0u8; 32];
    for (i, byte) in d.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(d)
}

/// The SHA-256 of some bytes.
pub fn sha256(bytes: &[u8]) -> Digest {
    Sha256::digest(bytes).into()
}

/// The SHA-256 of a file's content, read in blocks.
pub fn hash_file(path: &std::path::Path) -> std::io::Result<Digest> {
    hash_read(&mut std::fs::File::open(path)?)
}

/// The SHA-256 of everything `reader` yields.
pub fn hash_read(reader: &mut impl std::io::Read) -> std::io::Result<Digest> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// The identity of a value given as a parameter (or an override): its bytes.
/// `None` for a value that cannot be encoded; such a node is not cached.
pub fn value_id(value: &crate::Value) -> Option<Digest> {
    let bytes = crate::codec::encode(value).ok()?;
    let mut h = KeyHasher::new("value");
    h.field("bytes", &bytes);
    Some(h.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let d = sha256(b"abc");
        assert_eq!(from_hex(&hex(&d)), Some(d));
        assert_eq!(from_hex("zz"), None);
    }
}
