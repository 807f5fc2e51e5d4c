//! `strongbox key …`: keys (modelled on `az keyvault key`) and the cryptography done with them.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::{Change, InVault, Named, ObjectCmd, Props, Versioned, members, obj, object, print, read_json, read_text};

/// base64url as the wire uses it (no padding); padding is tolerated on input.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false).with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const KTYS: [&str; 6] = ["RSA", "RSA-HSM", "EC", "EC-HSM", "oct", "oct-HSM"];
const CURVES: [&str; 4] = ["P-256", "P-384", "P-521", "P-256K"];
const OPS: [&str; 8] = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export"];

#[derive(Subcommand)]
pub(crate) enum KeyCmd {
    /// Create a key, or a new version of it.
    Create {
        #[command(flatten)]
        n: Named,
        /// Key type (default: RSA, or EC when --curve is given).
        #[arg(long, value_parser = KTYS)]
        kty: Option<String>,
        /// RSA modulus size in bits (2048, 3072, 4096) or oct key size (128, 192, 256).
        #[arg(long)]
        size: Option<u32>,
        /// Curve of an EC key.
        #[arg(long, value_parser = CURVES)]
        curve: Option<String>,
        #[command(flatten)]
        new: NewVersion,
    },
    /// Import a private key from a JWK (JSON) or PEM file.
    Import {
        #[command(flatten)]
        n: Named,
        /// A private JWK (RFC 7517) in JSON.
        #[arg(long, required_unless_present = "pem_file", conflicts_with = "pem_file")]
        jwk_file: Option<PathBuf>,
        /// An unencrypted PEM private key: PKCS#8 (PRIVATE KEY), PKCS#1 (RSA PRIVATE KEY) or SEC1 (EC PRIVATE KEY).
        #[arg(long)]
        pem_file: Option<PathBuf>,
        /// Mark the key HSM-protected.
        #[arg(long)]
        hsm: bool,
        #[command(flatten)]
        new: NewVersion,
    },
    /// Change the permitted operations, attributes or tags of a version.
    SetAttributes {
        #[command(flatten)]
        change: Change,
        #[command(flatten)]
        ops: Ops,
    },
    #[command(flatten)]
    Object(ObjectCmd),
    /// Create a new version now (same type, size, curve and operations).
    Rotate(Named),
    /// Show or replace a key's rotation policy.
    RotationPolicy {
        #[command(subcommand)]
        cmd: PolicyCmd,
    },
    /// Encrypt data (RSA-OAEP, RSA-OAEP-256, RSA1_5; oct keys: A*GCM, A*CBC, A*CBCPAD).
    Encrypt(Crypt),
    /// Decrypt data encrypted with the key.
    Decrypt(Crypt),
    /// Wrap (encrypt) a symmetric key.
    Wrap(Crypt),
    /// Unwrap a wrapped symmetric key.
    Unwrap(Crypt),
    /// Sign a digest (RS256…, PS256…, ES256, ES384, ES512, ES256K).
    Sign(Digest),
    /// Verify a signature of a digest: prints {"value": true|false}.
    Verify {
        #[command(flatten)]
        d: Digest,
        /// The signature, base64url.
        #[arg(long, allow_hyphen_values = true)]
        signature: String,
    },
    /// Secure key release: the key wrapped to the runtime key of an attestation token (prints
    /// the signed release response `{"value": JWS}`).
    Release {
        #[command(flatten)]
        v: Versioned,
        /// File holding the attestation token (a JWS from a registered attestation authority).
        #[arg(long)]
        target: PathBuf,
        /// Wrapping: CKM_RSA_AES_KEY_WRAP (default), RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384.
        #[arg(long)]
        enc: Option<String>,
        #[arg(long)]
        nonce: Option<String>,
    },
    /// Random bytes from the vault (base64url).
    Random {
        #[command(flatten)]
        at: InVault,
        /// How many bytes (1 to 128).
        #[arg(long)]
        count: u32,
    },
}

#[derive(Subcommand)]
pub(crate) enum PolicyCmd {
    /// Show the rotation policy.
    Show(Named),
    /// Replace the rotation policy.
    Update {
        #[command(flatten)]
        n: Named,
        /// Expiry of new versions, an ISO-8601 duration such as P90D.
        #[arg(long)]
        expires_in: Option<String>,
        /// Rotate this long after a version was created (e.g. P30D).
        #[arg(long, conflicts_with = "rotate_before_expiry")]
        rotate_after_create: Option<String>,
        /// Rotate this long before a version expires (e.g. P7D).
        #[arg(long)]
        rotate_before_expiry: Option<String>,
        /// Notify (KeyNearExpiry event) this long before a version expires (e.g. P30D).
        #[arg(long)]
        notify_before_expiry: Option<String>,
    },
}

/// Permitted operations of a key.
#[derive(Args)]
pub(crate) struct Ops {
    /// Permitted operations (repeatable, or several after one --ops).
    #[arg(long, value_parser = OPS, num_args = 1.., value_delimiter = ',')]
    ops: Vec<String>,
}

/// Operations, tags and validity of a new key version.
#[derive(Args)]
pub(crate) struct NewVersion {
    #[command(flatten)]
    ops: Ops,
    #[command(flatten)]
    p: Props,
    /// Create it disabled.
    #[arg(long)]
    disabled: bool,
    /// Make the key exportable (secure key release); needs --release-policy.
    #[arg(long, requires = "release_policy")]
    exportable: bool,
    /// Release policy: a JSON file with the policy document (`{"version": "1.0.0", "anyOf": …}`)
    /// or a whole KeyReleasePolicy (`{"contentType", "immutable", "data"}`).
    #[arg(long)]
    release_policy: Option<PathBuf>,
    /// Make the release policy immutable (it can then never be changed).
    #[arg(long, requires = "release_policy")]
    immutable_policy: bool,
}

/// A key version (latest unless --version) and an algorithm to use it with.
#[derive(Args)]
pub(crate) struct UseKey {
    #[command(flatten)]
    v: Versioned,
    /// Algorithm, e.g. RSA-OAEP-256, PS256 or ES256.
    #[arg(long)]
    algorithm: String,
}

/// Input and output of encrypt, decrypt, wrap and unwrap.
#[derive(Args)]
pub(crate) struct Crypt {
    #[command(flatten)]
    k: UseKey,
    /// The input, base64url.
    #[arg(long, required_unless_present = "data_file", conflicts_with = "data_file", allow_hyphen_values = true)]
    value: Option<String>,
    /// Read the raw input bytes from a file.
    #[arg(long)]
    data_file: Option<PathBuf>,
    /// Write the raw result bytes to a file instead of printing the reply.
    #[arg(long)]
    out_file: Option<PathBuf>,
    /// Initialisation vector, base64url (AES-CBC; AES-GCM decrypt: the `iv` encrypt returned).
    #[arg(long, allow_hyphen_values = true)]
    iv: Option<String>,
    /// Additional authenticated data, base64url (AES-GCM).
    #[arg(long, allow_hyphen_values = true)]
    aad: Option<String>,
    /// Authentication tag, base64url (AES-GCM decrypt: the `tag` encrypt returned).
    #[arg(long, allow_hyphen_values = true)]
    tag: Option<String>,
}

/// The digest that sign and verify take.
#[derive(Args)]
pub(crate) struct Digest {
    #[command(flatten)]
    k: UseKey,
    /// The digest (hash of the data, as long as the algorithm's hash), base64url.
    #[arg(long, allow_hyphen_values = true)]
    digest: String,
}

impl Ops {
    fn apply(&self, to: &mut Map<String, Value>) {
        if !self.ops.is_empty() {
            to.insert("key_ops".to_owned(), json!(self.ops));
        }
    }
}

impl NewVersion {
    fn body(&self) -> anyhow::Result<Map<String, Value>> {
        let mut body = self.p.body(self.disabled.then_some(false))?;
        if self.exportable {
            let attributes = body.entry("attributes").or_insert(Value::Null);
            members(attributes, "attributes")?.insert("exportable".to_owned(), json!(true));
        }
        if let Some(f) = &self.release_policy {
            body.insert("release_policy".to_owned(), release_policy(f, self.immutable_policy)?);
        }
        Ok(body)
    }
}

/// The wire `release_policy` from a file (see `--release-policy`).
fn release_policy(f: &Path, immutable: bool) -> anyhow::Result<Value> {
    let text = read_text(f)?;
    let v: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", f.display()))?;
    let Value::Object(mut p) = v else {
        bail!("{} must hold a JSON object (a release policy)", f.display());
    };
    if p.get("data").is_some_and(Value::is_string) {
        if immutable {
            p.insert("immutable".to_owned(), json!(true));
        }
        return Ok(Value::Object(p));
    }
    Ok(json!({
        "contentType": "application/json; charset=utf-8",
        "immutable": immutable,
        "data": B64URL.encode(text.trim().as_bytes()),
    }))
}

impl UseKey {
    async fn call(&self, op: &str, mut body: Map<String, Value>) -> anyhow::Result<Value> {
        body.insert("alg".to_owned(), json!(self.algorithm));
        let path = format!("{}/{op}", self.v.path("keys"));
        self.v.n.at.client().await?.call("POST", &path, Some(Value::Object(body))).await
    }

    fn print(&self, v: &Value) {
        print(self.v.n.at.c.output, v);
    }
}

pub(crate) async fn run(cmd: KeyCmd) -> anyhow::Result<()> {
    match cmd {
        KeyCmd::Create { n, kty, size, curve, new } => {
            let mut body = new.body()?;
            new.ops.apply(&mut body);
            body.insert("kty".to_owned(), json!(kty.as_deref().unwrap_or(if curve.is_some() { "EC" } else { "RSA" })));
            if let Some(s) = size {
                body.insert("key_size".to_owned(), json!(s));
            }
            if let Some(c) = curve {
                body.insert("crv".to_owned(), json!(c));
            }
            n.at.show("POST", &format!("/keys/{}/create", n.name), Some(Value::Object(body))).await
        }
        KeyCmd::Import { n, jwk_file, pem_file, hsm, new } => {
            let jwk = match (jwk_file, pem_file) {
                (Some(f), _) => {
                    let v = read_json(&f)?;
                    // Also accept an import body or key bundle ({"key": {…}}).
                    v.get("key").filter(|k| k.is_object()).cloned().unwrap_or(v)
                }
                (None, Some(f)) => {
                    pem::to_jwk(&read_text(&f)?).with_context(|| format!("cannot import {}", f.display()))?
                }
                (None, None) => bail!("give the key with --jwk-file or --pem-file"),
            };
            let Value::Object(mut jwk) = jwk else {
                bail!("the JWK must be a JSON object");
            };
            new.ops.apply(&mut jwk);
            let mut body = new.body()?;
            body.insert("key".to_owned(), Value::Object(jwk));
            if hsm {
                body.insert("Hsm".to_owned(), json!(true));
            }
            n.at.show("PUT", &format!("/keys/{}", n.name), Some(Value::Object(body))).await
        }
        KeyCmd::SetAttributes { change, ops } => change.send("keys", |body| ops.apply(body)).await,
        KeyCmd::Object(cmd) => object("keys", cmd).await,
        KeyCmd::Rotate(n) => n.at.show("POST", &format!("/keys/{}/rotate", n.name), None).await,
        KeyCmd::RotationPolicy { cmd } => policy(cmd).await,
        KeyCmd::Encrypt(c) => crypt("encrypt", c).await,
        KeyCmd::Decrypt(c) => crypt("decrypt", c).await,
        KeyCmd::Wrap(c) => crypt("wrapkey", c).await,
        KeyCmd::Unwrap(c) => crypt("unwrapkey", c).await,
        KeyCmd::Sign(d) => {
            d.k.print(&d.k.call("sign", obj([("value", json!(d.digest))])).await?);
            Ok(())
        }
        KeyCmd::Verify { d, signature } => {
            d.k.print(&d.k.call("verify", obj([("digest", json!(d.digest)), ("value", json!(signature))])).await?);
            Ok(())
        }
        KeyCmd::Release { v, target, enc, nonce } => {
            let token = read_text(&target)?.trim().to_owned();
            let mut body = obj([("target", json!(token))]);
            if let Some(e) = enc {
                body.insert("enc".to_owned(), json!(e));
            }
            if let Some(n) = nonce {
                body.insert("nonce".to_owned(), json!(n));
            }
            let path = format!("{}/release", v.path("keys"));
            v.n.at.show("POST", &path, Some(Value::Object(body))).await
        }
        KeyCmd::Random { at, count } => at.show("POST", "/rng", Some(json!({ "count": count }))).await,
    }
}

async fn crypt(op: &str, c: Crypt) -> anyhow::Result<()> {
    let value = match (c.value, &c.data_file) {
        (Some(v), _) => v,
        (None, Some(f)) => B64URL.encode(read_bytes(f)?),
        (None, None) => bail!("give the input with --value or --data-file"),
    };
    let mut body = obj([("value", json!(value))]);
    for (name, v) in [("iv", &c.iv), ("aad", &c.aad), ("tag", &c.tag)] {
        if let Some(v) = v {
            body.insert(name.to_owned(), json!(v));
        }
    }
    let reply = c.k.call(op, body).await?;
    match &c.out_file {
        None => c.k.print(&reply),
        Some(f) => {
            let v = reply.get("value").and_then(Value::as_str).context("the reply has no value")?;
            // decrypt/unwrapKey output is plaintext or key material: owner-only file
            // (a new file renamed into place: an existing file's wider mode does not carry over)
            let bytes =
                strongbox_types::SecretBytes::new(B64URL.decode(v).context("the reply value is not base64url")?);
            strongbox_server::write_private(f, bytes.expose())?;
            eprintln!("{op} result written to {}", f.display());
        }
    }
    Ok(())
}

fn read_bytes(f: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))
}

async fn policy(cmd: PolicyCmd) -> anyhow::Result<()> {
    match cmd {
        PolicyCmd::Show(n) => n.at.show("GET", &format!("/keys/{}/rotationpolicy", n.name), None).await,
        PolicyCmd::Update { n, expires_in, rotate_after_create, rotate_before_expiry, notify_before_expiry } => {
            let action = |trigger: &str, after: String, kind: &str| json!({ "trigger": { trigger: after }, "action": { "type": kind } });
            let actions: Vec<Value> = [
                rotate_after_create.map(|d| action("timeAfterCreate", d, "Rotate")),
                rotate_before_expiry.map(|d| action("timeBeforeExpiry", d, "Rotate")),
                notify_before_expiry.map(|d| action("timeBeforeExpiry", d, "Notify")),
            ]
            .into_iter()
            .flatten()
            .collect();
            let mut body = obj([("lifetimeActions", json!(actions))]);
            if let Some(e) = expires_in {
                body.insert("attributes".to_owned(), json!({ "expiryTime": e }));
            }
            n.at.show("PUT", &format!("/keys/{}/rotationpolicy", n.name), Some(Value::Object(body))).await
        }
    }
}

/// Unencrypted PEM private keys as private JWKs, read with a minimal DER reader (enough for the
/// PKCS#1, SEC1 and PKCS#8 key structures).
mod pem {
    use anyhow::{Context, bail};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::{Map, Value, json};

    use super::B64URL;

    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;
    const OCTET_STRING: u8 = 0x04;
    const OID: u8 = 0x06;
    /// Context tags `[0]` (EC parameters) and `[1]` (EC public key) of SEC1.
    const CTX_PARAMS: u8 = 0xa0;
    const CTX_PUBLIC: u8 = 0xa1;

    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    /// Curve OIDs (DER content), JWK names and field lengths in bytes.
    const CURVES: [(&[u8], &str, usize); 4] = [
        (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07], "P-256", 32),
        (&[0x2b, 0x81, 0x04, 0x00, 0x22], "P-384", 48),
        (&[0x2b, 0x81, 0x04, 0x00, 0x23], "P-521", 66),
        (&[0x2b, 0x81, 0x04, 0x00, 0x0a], "P-256K", 32),
    ];

    pub(super) fn to_jwk(text: &str) -> anyhow::Result<Value> {
        let (_, rest) = text.split_once("-----BEGIN ").context("no PEM block (-----BEGIN …-----) found")?;
        let (label, rest) = rest.split_once("-----").context("the PEM header is malformed")?;
        let (body, _) = rest.split_once("-----END ").context("the PEM block has no END line")?;
        if body.contains(':') || label == "ENCRYPTED PRIVATE KEY" {
            bail!("the key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)");
        }
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        let der = STANDARD.decode(b64).context("the PEM body is not base64")?;
        match label {
            "RSA PRIVATE KEY" => rsa(&der),
            "EC PRIVATE KEY" => ec(&der, None),
            "PRIVATE KEY" => pkcs8(&der),
            other => {
                bail!("a '{other}' PEM block is not a private key; give PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY")
            }
        }
    }

    /// The unread rest of a DER structure.
    struct Der<'a>(&'a [u8]);

    impl<'a> Der<'a> {
        /// Reads one element (a single tag byte is enough for key structures): tag and content.
        fn any(&mut self) -> anyhow::Result<(u8, &'a [u8])> {
            let [tag, first, rest @ ..] = self.0 else { bail!("the DER data is truncated") };
            let (len, rest) = match *first {
                n if n < 0x80 => (usize::from(n), rest),
                n @ 0x81..=0x84 => {
                    let k = usize::from(n - 0x80);
                    let (bytes, rest) = rest.split_at_checked(k).context("the DER data is truncated")?;
                    (bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b)), rest)
                }
                _ => bail!("the DER data has an unsupported length form"),
            };
            let (content, tail) = rest.split_at_checked(len).context("the DER data is truncated")?;
            self.0 = tail;
            Ok((*tag, content))
        }

        fn next(&mut self, want: u8) -> anyhow::Result<&'a [u8]> {
            match self.any()? {
                (tag, content) if tag == want => Ok(content),
                (tag, _) => bail!("unexpected DER element (tag {tag:#04x} where {want:#04x} belongs)"),
            }
        }

        /// The content of the SEQUENCE that `der` is.
        fn sequence(der: &'a [u8]) -> anyhow::Result<Self> {
            Ok(Self(Self(der).next(SEQUENCE)?))
        }
    }

    fn b64(bytes: &[u8]) -> Value {
        json!(B64URL.encode(bytes))
    }

    /// PKCS#1 RSAPrivateKey: version, n, e, d, p, q, dp, dq, qi.
    fn rsa(der: &[u8]) -> anyhow::Result<Value> {
        let mut s = Der::sequence(der)?;
        s.next(INTEGER)?;
        let mut jwk = Map::new();
        jwk.insert("kty".to_owned(), json!("RSA"));
        for member in ["n", "e", "d", "p", "q", "dp", "dq", "qi"] {
            // unsigned big-endian: without the leading zero bytes, but at least one byte
            let mut int = s.next(INTEGER)?;
            while let [0, rest @ ..] = int
                && !rest.is_empty()
            {
                int = rest;
            }
            jwk.insert(member.to_owned(), b64(int));
        }
        Ok(Value::Object(jwk))
    }

    /// SEC1 ECPrivateKey: version, d, [0] curve, [1] public point; a PKCS#8 wrapper may name the curve instead.
    fn ec(der: &[u8], curve: Option<&[u8]>) -> anyhow::Result<Value> {
        let mut s = Der::sequence(der)?;
        s.next(INTEGER)?;
        let d = s.next(OCTET_STRING)?;
        let (mut curve, mut point) = (curve, None);
        while !s.0.is_empty() {
            match s.any()? {
                (CTX_PARAMS, c) => curve = Some(Der(c).next(OID)?),
                (CTX_PUBLIC, c) => point = Some(Der(c).next(BIT_STRING)?),
                _ => {}
            }
        }
        let curve = curve.context("the EC key does not name its curve")?;
        let &(_, crv, len) = CURVES
            .iter()
            .find(|(oid, ..)| *oid == curve)
            .context("the EC curve is not supported (P-256, P-384, P-521, P-256K)")?;
        // BIT STRING content: 0 unused bits, then the uncompressed point 04 ‖ x ‖ y.
        let xy = match point {
            Some([0, 4, xy @ ..]) if xy.len() == 2 * len => xy,
            _ => bail!(
                "the EC key holds no uncompressed public key; convert it with \
                 `openssl ec -in KEY -conv_form uncompressed -out KEY2`, or import a JWK"
            ),
        };
        if d.len() > len {
            bail!("the EC private key is too long for curve {crv}");
        }
        let mut padded = vec![0; len - d.len()];
        padded.extend_from_slice(d);
        let (x, y) = xy.split_at(len);
        Ok(json!({ "kty": "EC", "crv": crv, "x": b64(x), "y": b64(y), "d": b64(&padded) }))
    }

    /// PKCS#8 PrivateKeyInfo: version, AlgorithmIdentifier, OCTET STRING with the key.
    fn pkcs8(der: &[u8]) -> anyhow::Result<Value> {
        let mut s = Der::sequence(der)?;
        s.next(INTEGER)?;
        let mut alg = Der(s.next(SEQUENCE)?);
        let oid = alg.next(OID)?;
        let key = s.next(OCTET_STRING)?;
        if oid == RSA_ENCRYPTION {
            rsa(key)
        } else if oid == EC_PUBLIC_KEY {
            ec(key, Some(alg.next(OID)?))
        } else {
            bail!("only RSA and EC private keys can be imported")
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn refuses_what_it_cannot_read() {
            let cert = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
            assert!(to_jwk(cert).is_err());
            assert!(to_jwk("no pem here").is_err());
            let truncated = "-----BEGIN PRIVATE KEY-----\nMIIBVAIBADAN\n-----END PRIVATE KEY-----\n";
            assert!(to_jwk(truncated).is_err());
            let enc = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----";
            assert!(to_jwk(enc).unwrap_err().to_string().contains("encrypted"));
        }
    }
}
