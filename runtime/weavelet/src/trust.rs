//! Signed components: minisign key pairs (Ed25519), signatures over the
//! component file's bytes, and the check a pipeline makes against the keys it
//! trusts. A signature travels as `<file>.minisig` beside a file or URL, or as
//! a layer of the OCI artifact.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use minisign::{KeyPair, PublicKey, SecretKey, SignatureBox};
use weavelet_core::Error;
use weavelet_core::key::{hex, sha256};

/// The key ID minisign prints for the key number `keynum` (16 hex digits).
fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    for (slot, byte) in bytes.iter_mut().zip(keynum) {
        *slot = *byte;
    }
    format!("{:016X}", u64::from_le_bytes(bytes))
}

/// A public key from its base64 text, or why it is not one (the text itself
/// is never repeated: a secret key listed by mistake must not reach a log).
pub fn public_key(base64: &str) -> Result<PublicKey, String> {
    PublicKey::from_base64(base64.trim())
        .map_err(|e| format!("a listed key is not a minisign public key ({e})"))
}

/// The key ID of the public key `base64`.
pub fn public_key_id(base64: &str) -> Result<String, String> {
    Ok(key_id(public_key(base64)?.keynum()))
}

/// The key ID a signature names (not yet checked against anything).
pub fn signature_key_id(signature: &str) -> Result<String, String> {
    let signature =
        SignatureBox::from_string(signature).map_err(|e| format!("not a minisign signature: {e}"))?;
    Ok(key_id(signature.keynum()))
}

/// Whether `signature` has the shape of a minisign signature: four lines,
/// the second and fourth base64 of 74 and 64 bytes. minisign reads the
/// fourth by fixed offsets and panics on a shorter one.
fn well_formed(signature: &str) -> bool {
    let lines: Vec<&str> = signature.lines().map(str::trim_end).collect();
    let base64 = |line: &str, len: usize| {
        line.len() == len && line.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
    };
    lines.len() >= 4
        && lines[0].starts_with("untrusted comment:")
        && base64(lines[1], 100)
        && lines[2].starts_with("trusted comment:")
        && base64(lines[3], 88)
}

/// Why a signature made for the OCI reference `signed_for` (its signed
/// comment's `oci:` field) does not cover `fetched_as`: another registry or
/// repository, or another tag where both name one. `None` where it covers it.
fn other_reference(signed_for: &str, fetched_as: &str) -> Option<String> {
    let (Ok(signed), Ok(fetched)) = (crate::oci::reference(signed_for), crate::oci::reference(fetched_as))
    else {
        return Some(format!(
            "it was signed for `{}`, which is not an OCI reference",
            crate::sanitize(signed_for)
        ));
    };
    let same_repository = signed.resolve_registry() == fetched.resolve_registry()
        && signed.repository() == fetched.repository();
    let same_tag = match (signed.tag(), fetched.tag()) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    (!(same_repository && same_tag)).then(|| {
        format!(
            "it was signed for {}, not {fetched_as}: a registry serving one signed component under another name \
             or tag (an older build re-tagged as new, say) is refused",
            crate::sanitize(signed_for)
        )
    })
}

/// The key ID of the one of `keys` (base64 public keys) whose signature
/// `signature` is over `bytes`; or why none is. A signature made by
/// `weavelet publish` also names the reference it was published as (in its
/// signed comment); where `fetched_as` is given (an OCI reference) it must
/// be that one.
pub fn verify(
    bytes: &[u8],
    signature: Option<&str>,
    keys: &[String],
    fetched_as: Option<&str>,
) -> Result<String, String> {
    let listed: Vec<(String, PublicKey)> =
        keys.iter().filter_map(|k| public_key(k).ok().map(|key| (key_id(key.keynum()), key))).collect();
    let trusted: Vec<&str> = listed.iter().map(|(id, _)| id.as_str()).collect();
    let Some(signature) = signature else {
        return Err(format!("it has no signature (trusted keys: {})", trusted.join(", ")));
    };
    if !well_formed(signature) {
        return Err("its signature is not a well-formed minisign signature".into());
    }
    let boxed = SignatureBox::from_string(signature)
        .map_err(|e| format!("its signature is not a minisign signature: {e}"))?;
    let signer = key_id(boxed.keynum());
    let candidates: Vec<&PublicKey> =
        listed.iter().filter(|(id, _)| *id == signer).map(|(_, key)| key).collect();
    if candidates.is_empty() {
        return Err(format!(
            "it is signed by key {signer}, which is not one of the trusted keys ({})",
            trusted.join(", ")
        ));
    }
    // Every listed key with that ID (two keys may share one); a panic inside
    // minisign on a hostile signature is a refusal, not a crash.
    let mut why = String::new();
    for key in candidates {
        let checked = weavelet_core::caught("checking the signature", || {
            minisign::verify(key, &boxed, Cursor::new(bytes), true, false, false)
        })?;
        match checked {
            Ok(()) => {
                // The signed comment is authenticated now: hold the artifact to the reference it names.
                let comment = boxed.trusted_comment().unwrap_or_default();
                // `weavelet component sha256:<hex> <file> [oci:<reference>]`
                let signed_for =
                    comment.split_whitespace().skip(4).find_map(|word| word.strip_prefix("oci:"));
                if let (Some(signed_for), Some(fetched_as)) = (signed_for, fetched_as)
                    && let Some(why) = other_reference(signed_for, fetched_as)
                {
                    return Err(why);
                }
                return Ok(signer);
            }
            Err(e) => why = e.to_string(),
        }
    }
    Err(format!(
        "its signature names key {signer}, but does not verify with it ({why}): the file or the signature was changed"
    ))
}

/// A new key pair written to `dir` as `<name>.key` (secret, unencrypted, mode
/// 0600) and `<name>.pub`; refuses to replace existing files. The two paths
/// and the public key.
pub fn keygen(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf, String, String), Error> {
    let secret_path = dir.join(format!("{name}.key"));
    let public_path = dir.join(format!("{name}.pub"));
    for path in [&secret_path, &public_path] {
        if path.exists() {
            return Err(Error::build(format!(
                "{} exists; keygen never replaces a key (move it away, or pass another --name)",
                path.display()
            )));
        }
    }
    let pair = KeyPair::generate_unencrypted_keypair()
        .map_err(|e| Error::build(format!("making a key pair: {e}")))?;
    let id = key_id(pair.pk.keynum());
    let public = pair.pk.to_base64();
    let secret_text = pair
        .sk
        .to_box(Some(&format!("weavelet secret key {id}")))
        .map_err(|e| Error::build(format!("writing the secret key: {e}")))?
        .to_string();
    let public_text = format!("untrusted comment: weavelet public key {id}\n{public}\n");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    write_private(&secret_path, secret_text.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", secret_path.display()), e))?;
    std::fs::write(&public_path, public_text)
        .map_err(|e| Error::io(format!("writing {}", public_path.display()), e))?;
    Ok((secret_path, public_path, public, id))
}

/// `bytes` to a new file at `path` readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// A signature of the component file `wasm` with the secret key at
/// `secret_key` (a minisign secret key; an encrypted one asks for its
/// password on the terminal), written to `<wasm>.minisig`; `published_as`
/// (an OCI reference) is signed with it, and a pipeline fetching the file as
/// anything else refuses it. That path and the signer's key ID.
pub fn sign(wasm: &Path, secret_key: &Path, published_as: Option<&str>) -> Result<(PathBuf, String), Error> {
    let bytes = std::fs::read(wasm).map_err(|e| Error::io(format!("reading {}", wasm.display()), e))?;
    let text = std::fs::read_to_string(secret_key)
        .map_err(|e| Error::io(format!("reading the secret key {}", secret_key.display()), e))?;
    let boxed = || {
        minisign::SecretKeyBox::from_string(&text)
            .map_err(|e| Error::build(format!("{} is not a minisign secret key: {e}", secret_key.display())))
    };
    // Unencrypted (`weavelet keygen`), else minisign's password prompt.
    let secret: SecretKey = match boxed()?.into_unencrypted_secret_key() {
        Ok(secret) => secret,
        Err(_) => boxed()?
            .into_secret_key(None)
            .map_err(|e| Error::build(format!("opening the secret key {}: {e}", secret_key.display())))?,
    };
    let public = PublicKey::from_secret_key(&secret)
        .map_err(|e| Error::build(format!("the secret key {}: {e}", secret_key.display())))?;
    let id = key_id(public.keynum());
    let name = wasm.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut trusted = format!(
        "weavelet component sha256:{} {}",
        hex(&sha256(&bytes)),
        name.replace(char::is_whitespace, "_")
    );
    if let Some(reference) = published_as {
        trusted.push_str(&format!(" oci:{}", reference.replace(char::is_whitespace, "")));
    }
    let signature = minisign::sign(Some(&public), &secret, Cursor::new(&bytes), Some(&trusted), None)
        .map_err(|e| Error::build(format!("signing {}: {e}", wasm.display())))?;
    let path = signature_path(wasm);
    std::fs::write(&path, signature.to_string())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok((path, id))
}

/// Where the signature of the local component file `wasm` is: `<wasm>.minisig`.
pub fn signature_path(wasm: &Path) -> PathBuf {
    let mut name = wasm.as_os_str().to_os_string();
    name.push(".minisig");
    PathBuf::from(name)
}
