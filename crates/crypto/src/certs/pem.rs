//! Text encodings of certificates: PEM blocks and standard base64.

use strongbox_types::{Error, Result, SecretBytes};

/// One PEM block, lines of 64 characters.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A PEM block's label and DER contents. Private key contents are zeroized on drop.
pub struct PemBlock {
    pub label: String,
    pub der: SecretBytes,
}

impl std::fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemBlock").field("label", &self.label).finish_non_exhaustive()
    }
}

/// Every `-----BEGIN X-----` block of a PEM text, in order.
pub fn parse_pem(text: &str) -> Result<Vec<PemBlock>> {
    use base64::Engine;
    let bad = || Error::bad("The PEM text is malformed.");
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l == end {
                closed = true;
                break;
            }
            if l.contains(':') {
                // RFC 1421 headers (encrypted legacy keys) are not supported.
                return Err(Error::bad("Encrypted PEM private keys are not supported; import a PFX with a password."));
            }
            body.push_str(l);
        }
        if !closed {
            return Err(bad());
        }
        let der = base64::engine::general_purpose::STANDARD.decode(body.as_bytes()).map_err(|_| bad())?;
        out.push(PemBlock { label: label.to_owned(), der: SecretBytes::new(der) });
    }
    Ok(out)
}

/// Standard base64 with padding (Azure's `format: byte`: `cer`, `csr`, `x5c`).
pub fn b64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard base64 (whitespace ignored). `None` when it is not base64.
pub fn b64_std_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()).ok()
}
