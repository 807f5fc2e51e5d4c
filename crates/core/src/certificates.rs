//! Certificates: a collection of versioned objects (the X.509 certificate and its policy), each
//! version backed by a key `keys/{name}/{version}` and a secret `secrets/{name}/{version}` with
//! the same version id, marked `managed`. The three are written, deleted, recovered and purged
//! together in one barrier transaction each.
//!
//! Issuance: `Self` (self-signed, completed synchronously), `Unknown` (a CSR in the pending
//! operation, completed by merge), and issuer records. Public CA providers are stored but cannot
//! be reached from here: their pending operations fail with a clear error.
//!
//! `RSA-HSM`/`EC-HSM` policies (premium vaults with a PKCS#11 token): the key is generated in the
//! token, the key record holds only its handle, the certificate or CSR is signed by the token,
//! and the secret holds the certificate chain without a private key (never exportable). Purging
//! the certificate purges the key, which destroys the token object.
//!
//! Storage beyond the three collections: `certop/{vault}/{name}` pending operation,
//! `certissuer/{vault}/{name}` issuers, `certcontacts/{vault}` contacts,
//! `certnote/{vault}/{name}/{version}` EmailContacts notifications already raised.

mod ca;
mod policy;

pub use ca::{CaView, NewCa};

pub use policy::{CertLifetimeAction, CertPolicy, PolicyInput};

use std::sync::Arc;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use strongbox_barrier::BTxn;
use strongbox_crypto::certs::{self as x509, CertInfo, X509Spec};
use strongbox_crypto::handle::{KeyHandle, KeySpec};
use strongbox_crypto::keys::{KeyKind, KeyMaterial};
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretBytes, SecretString, Version};

use crate::keys::{KEYS, KeyPayload};
use crate::objects::{Attributes, Spec, check_tags};
use crate::records::{HeadRec, Tags, VersionMeta, VersionRec};
use crate::secrets::SECRETS;
use crate::vaults::VaultRecord;
use crate::{CAS_RETRIES, Core, DeletedInfo, decode, encode};

pub(crate) const CERTS: Spec = Spec {
    heads: strongbox_barrier::keyspace::CERT_HEADS,
    versions: strongbox_barrier::keyspace::CERT_VERSIONS,
    deleted: strongbox_barrier::keyspace::DELETED_CERTS,
    noun: "certificate",
    title: "Certificate",
    not_found: ErrorKind::CertificateNotFound,
    disabled: ErrorKind::CertificateDisabled,
    backup_aad: b"strongbox/backup/v1/certificate",
    managed: None,
};

pub const CT_PKCS12: &str = "application/x-pkcs12";
pub const CT_PEM: &str = "application/x-pem-file";
const BACKUP_MAGIC: &[u8; 4] = b"SBC1";
const MAX_CONTACTS: usize = 25;

/// The stored payload of a certificate version. (The version's `content_type` metadata slot
/// holds the `x5t`, so that lists, which skip payloads, can show it.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CertPayload {
    /// DER of the certificate, standard base64.
    pub cer: String,
    /// DER of the issuer chain (leaf excluded), standard base64.
    #[serde(default)]
    pub chain: Vec<String>,
    /// The certificate's policy (the latest version's copy is the current one).
    pub policy: CertPolicy,
}

/// An error recorded in a pending operation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OperationError {
    pub code: String,
    pub message: String,
}

/// The pending operation of a certificate (`/certificates/{name}/pending`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingRec {
    name: String,
    issuer: String,
    cert_type: Option<String>,
    cert_transparency: Option<bool>,
    status: String,
    status_details: Option<String>,
    error: Option<OperationError>,
    /// PKCS#10 DER, standard base64.
    csr: Option<String>,
    target_version: Option<String>,
    request_id: String,
    cancellation_requested: bool,
    /// While waiting for a merge: the key (`KeyMaterial::to_storage`, hex), the policy and the
    /// attributes of the version to create.
    key: Option<SecretString>,
    /// While waiting for a merge with an HSM key: the provider's handle id (never material).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hsm_key: Option<String>,
    policy: CertPolicy,
    tags: Option<Tags>,
    enabled: Option<bool>,
    /// When the operation was started.
    #[serde(default)]
    created: i64,
}

/// A pending operation as the API shows it.
#[derive(Debug, Clone)]
pub struct CertOperationView {
    pub name: String,
    pub issuer: String,
    pub cert_type: Option<String>,
    pub cert_transparency: Option<bool>,
    pub csr: Option<Vec<u8>>,
    pub cancellation_requested: bool,
    pub status: String,
    pub status_details: Option<String>,
    pub error: Option<OperationError>,
    /// Version of the certificate the operation produced.
    pub target_version: Option<String>,
    pub request_id: String,
}

/// One certificate version as the API shows it.
#[derive(Debug, Clone)]
pub struct CertView {
    pub name: String,
    pub version: String,
    /// DER (absent in lists).
    pub cer: Option<Vec<u8>>,
    pub x5t: Option<String>,
    /// Present on single-certificate results.
    pub policy: Option<CertPolicy>,
    pub tags: Option<Tags>,
    pub attributes: Attributes,
    pub deleted: Option<DeletedInfo>,
}

#[derive(Debug)]
pub struct CertListing {
    pub items: Vec<CertView>,
    pub next: Option<String>,
}

/// `POST /certificates/{name}/create`.
#[derive(Debug, Default)]
pub struct CreateCertificate {
    pub policy: Option<PolicyInput>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
}

/// `POST /certificates/{name}/import`. `value` is the request's `value` member as sent.
#[derive(Debug)]
pub struct ImportCertificate {
    pub value: SecretString,
    pub password: Option<SecretString>,
    pub policy: Option<PolicyInput>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
}

/// `PATCH /certificates/{name}/{version}`: fields left `None` stay.
#[derive(Debug, Default)]
pub struct CertUpdate {
    pub policy: Option<PolicyInput>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
}

/// `POST /certificates/{name}/pending/merge`.
#[derive(Debug, Default)]
pub struct MergeCertificate {
    /// DER certificates, leaf first.
    pub x5c: Vec<Vec<u8>>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Contact {
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct AdminDetail {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// An issuer record. The credential password is kept (encrypted by the barrier) but never
/// shown again.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IssuerRec {
    name: String,
    provider: String,
    account_id: Option<String>,
    password: Option<SecretString>,
    org_id: Option<String>,
    admin_details: Vec<AdminDetail>,
    enabled: bool,
    created: i64,
    updated: i64,
}

/// An issuer as the API shows it.
#[derive(Debug, Clone)]
pub struct IssuerView {
    pub name: String,
    pub provider: String,
    pub account_id: Option<String>,
    pub org_id: Option<String>,
    pub admin_details: Vec<AdminDetail>,
    pub enabled: bool,
    pub created: i64,
    pub updated: i64,
}

/// `PUT` (all of it) or `PATCH` (what is `Some`) of an issuer.
#[derive(Debug, Default)]
pub struct IssuerInput {
    pub provider: Option<String>,
    pub account_id: Option<String>,
    pub password: Option<SecretString>,
    pub org_id: Option<String>,
    pub admin_details: Option<Vec<AdminDetail>>,
    pub enabled: Option<bool>,
}

fn op_key(vault: &str, lc: &str) -> String {
    format!("certop/{vault}/{lc}")
}
fn issuer_key(vault: &str, lc: &str) -> String {
    format!("certissuer/{vault}/{lc}")
}
fn contacts_key(vault: &str) -> String {
    format!("certcontacts/{vault}")
}

fn b64(der: &[u8]) -> String {
    x509::b64_std(der)
}

fn unb64(s: &str) -> Result<Vec<u8>> {
    x509::b64_std_decode(s).ok_or_else(|| Error::internal("stored certificate is corrupt"))
}

fn op_not_found(name: &str) -> Error {
    Error::new(ErrorKind::CertificateOperationNotFound, format!("Pending certificate not found: {name}"))
}

fn view_op(r: &PendingRec) -> CertOperationView {
    CertOperationView {
        name: r.name.clone(),
        issuer: r.issuer.clone(),
        cert_type: r.cert_type.clone(),
        cert_transparency: r.cert_transparency,
        csr: r.csr.as_deref().and_then(|c| unb64(c).ok()),
        cancellation_requested: r.cancellation_requested,
        status: r.status.clone(),
        status_details: r.status_details.clone(),
        error: r.error.clone(),
        target_version: r.target_version.clone(),
        request_id: r.request_id.clone(),
    }
}

fn view_issuer(r: IssuerRec) -> IssuerView {
    IssuerView {
        name: r.name,
        provider: r.provider,
        account_id: r.account_id,
        org_id: r.org_id,
        admin_details: r.admin_details,
        enabled: r.enabled,
        created: r.created,
        updated: r.updated,
    }
}

/// Key operations a certificate's key allows, from the policy's key usage.
fn key_ops(policy: &CertPolicy, kind: KeyKind) -> Vec<String> {
    let mut ops: Vec<&str> = Vec::new();
    let has = |u: &str| policy.key_usage.iter().any(|k| k == u);
    if has("digitalSignature") || has("nonRepudiation") || has("keyCertSign") || has("cRLSign") {
        ops.extend(["sign", "verify"]);
    }
    if matches!(kind, KeyKind::Rsa) {
        if has("keyEncipherment") {
            ops.extend(["wrapKey", "unwrapKey"]);
        }
        if has("dataEncipherment") || has("keyEncipherment") {
            ops.extend(["encrypt", "decrypt"]);
        }
    }
    if ops.is_empty() {
        ops.extend(["sign", "verify"]);
    }
    ops.into_iter().map(str::to_owned).collect()
}

fn spec_of(policy: &CertPolicy, not_before: i64) -> Result<X509Spec> {
    Ok(X509Spec {
        subject: policy.subject.clone(),
        dns_names: policy.dns_names.clone(),
        emails: policy.emails.clone(),
        upns: policy.upns.clone(),
        // validated and canonical when the policy was built
        ip_addresses: policy.ip_addresses.iter().filter_map(|ip| ip.parse().ok()).collect(),
        uris: policy.uris.clone(),
        ekus: policy.ekus.clone(),
        key_usage: policy.key_usage.clone(),
        not_before,
        not_after: x509::add_months(not_before, policy.validity_months)?,
        ca: None,
    })
}

fn new_key(policy: &CertPolicy) -> Result<KeyMaterial> {
    match policy.kind()? {
        KeyKind::Rsa => KeyMaterial::generate_rsa(policy.key_size.unwrap_or(2048) as usize),
        KeyKind::Ec(c) => KeyMaterial::generate_ec(c),
        KeyKind::Oct => Err(Error::bad("Certificates need an RSA or EC key.")),
    }
}

/// The key of a certificate version: software, or generated in the PKCS#11 token (`-HSM` key
/// types), where it signs the certificate or CSR through the provider and never leaves.
#[derive(Debug)]
enum IssueKey {
    Soft(KeyMaterial),
    Hsm { id: String, handle: Arc<dyn KeyHandle> },
}

impl IssueKey {
    fn cert_key(&self) -> x509::CertKey<'_> {
        match self {
            IssueKey::Soft(k) => x509::CertKey::Soft(k),
            IssueKey::Hsm { handle, .. } => x509::CertKey::Handle(handle.as_ref()),
        }
    }

    fn kind(&self) -> KeyKind {
        match self {
            IssueKey::Soft(k) => k.kind(),
            IssueKey::Hsm { handle, .. } => handle.kind(),
        }
    }
}

fn key_hex(k: &KeyMaterial) -> SecretString {
    SecretString::new(strongbox_crypto::hex(k.to_storage().expose()))
}

fn key_from_hex(s: &SecretString) -> Result<KeyMaterial> {
    let b = strongbox_crypto::unhex(s.expose()).ok_or_else(|| Error::internal("stored key is corrupt"))?;
    KeyMaterial::from_storage(SecretBytes::new(b).expose())
}

/// The secret value: base64 PFX without a password, or PEM (key first, then the chain). The
/// private key is included only when the policy makes it exportable.
fn secret_value(policy: &CertPolicy, key: &IssueKey, chain: &[Vec<u8>]) -> Result<SecretString> {
    let pkcs8 = match key {
        IssueKey::Soft(k) if policy.exportable => Some(x509::pkcs8_of(k)),
        _ => None,
    };
    encode_secret(&policy.content_type, pkcs8.as_ref(), chain)
}

fn encode_secret(content_type: &str, pkcs8: Option<&SecretBytes>, chain: &[Vec<u8>]) -> Result<SecretString> {
    if content_type == CT_PEM {
        let mut s = String::new();
        if let Some(k) = pkcs8 {
            s.push_str(&x509::to_pem("PRIVATE KEY", k.expose()));
        }
        for c in chain {
            s.push_str(&x509::to_pem("CERTIFICATE", c));
        }
        Ok(SecretString::new(s))
    } else {
        let pfx = SecretBytes::new(strongbox_crypto::pkcs12::write_pfx(pkcs8, chain, "")?);
        Ok(SecretString::new(b64(pfx.expose())))
    }
}

/// The key (PKCS#8, when exportable) and chain held in a certificate's secret.
fn decode_secret(content_type: &str, value: &SecretString) -> Result<(Option<SecretBytes>, Vec<Vec<u8>>)> {
    if content_type == CT_PEM {
        pem_key_and_certs(value.expose())
    } else {
        let der = SecretBytes::new(unb64(value.expose())?);
        let c = strongbox_crypto::pkcs12::read_pfx(der.expose(), "")?;
        Ok((c.key, c.certs))
    }
}

/// The private key (PKCS#8) and the certificates of a PEM text, in order; other blocks are
/// skipped. At most one key, which must be unencrypted PKCS#8.
fn pem_key_and_certs(text: &str) -> Result<(Option<SecretBytes>, Vec<Vec<u8>>)> {
    let mut key = None;
    let mut certs = Vec::new();
    for b in x509::parse_pem(text)? {
        match b.label.as_str() {
            "PRIVATE KEY" if key.is_none() => key = Some(b.der),
            "PRIVATE KEY" => return Err(Error::bad("The PEM content holds more than one private key.")),
            "CERTIFICATE" => certs.push(b.der.expose().to_vec()),
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
                return Err(Error::bad("The PEM private key must be an unencrypted PKCS#8 key ('BEGIN PRIVATE KEY')."));
            }
            _ => {}
        }
    }
    Ok((key, certs))
}

/// `input` merged into `old` by a policy update: keeps the creation time, stamps `now`.
fn merged_policy(input: &PolicyInput, old: &CertPolicy, v: &VaultRecord, now: i64) -> Result<CertPolicy> {
    let mut np = policy::build(input, Some(old), v, now)?;
    np.created = old.created;
    np.updated = now;
    Ok(np)
}

/// Which certificate of `certs` belongs to `key`, and the rest.
fn split_leaf(key: &KeyMaterial, certs: Vec<Vec<u8>>) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let spki = x509::spki_of(key)?;
    let mut rest = Vec::new();
    let mut leaf = None;
    for c in certs {
        if leaf.is_none() && x509::inspect(&c)?.spki == spki {
            leaf = Some(c);
        } else {
            rest.push(c);
        }
    }
    let leaf = leaf.ok_or_else(|| {
        Error::bad("The private key does not match the public key of any certificate in the content.")
    })?;
    Ok((leaf, rest))
}

/// Azure's refusal of a change to a managed key or secret through the keys or secrets API.
pub(crate) fn managed_error(c: &Spec, op: &str) -> Error {
    c.managed_error(op)
}

/// A restore refused because the name of the certificate's key or secret is taken.
fn name_taken(c: &Spec, cert: &str, e: Error) -> Error {
    if matches!(e.kind, ErrorKind::Conflict | ErrorKind::DeletedButRecoverable) {
        Error::new(
            ErrorKind::Conflict,
            format!(
                "Certificate {cert} cannot be restored: the name of its {} is taken ({}) Nothing was restored.",
                c.noun, e.message
            ),
        )
    } else {
        e
    }
}

/// What an imported PFX or PEM holds, checked: its key, its chain (leaf first, ordered) and
/// the leaf's facts.
struct ParsedImport {
    key: KeyMaterial,
    chain: Vec<Vec<u8>>,
    info: CertInfo,
    sniffed: &'static str,
}

/// Most imports (and merges) parsed at once; the others wait their turn. Parsing runs on the
/// blocking pool, so even the slowest accepted file never holds an async worker.
static IMPORT_PARSES: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(2)));

/// Runs the CPU-heavy part of an import or merge (PFX key derivation, key and certificate
/// parsing, chain ordering) off the async workers, a bounded number at a time.
async fn run_import_parse<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    crate::bounded::run_bounded(&IMPORT_PARSES, "the certificate import was interrupted", work).await
}

/// Decodes and checks an import's `value`: base64 PFX (with `password`) or PEM (base64 or
/// text). Every certificate must be one (at most [`x509::MAX_CHAIN`]), the key must match one
/// of them, and the chain is ordered leaf → root.
fn parse_import(value: &SecretString, password: Option<&SecretString>) -> Result<ParsedImport> {
    let raw = value.expose().trim();
    // SDKs send base64 of the file (for PEM, base64 of the text); some send PEM text.
    let bytes = if is_pem(raw.as_bytes()) {
        SecretBytes::new(raw.as_bytes().to_vec())
    } else {
        SecretBytes::new(
            x509::b64_std_decode(raw)
                .ok_or_else(|| Error::bad("The certificate content is neither base64 PKCS#12 (PFX) nor PEM."))?,
        )
    };
    let (pkcs8, certs, sniffed) = if is_pem(bytes.expose()) {
        let text = std::str::from_utf8(bytes.expose()).map_err(|_| Error::bad("The PEM content is not text."))?;
        let (key, certs) = pem_key_and_certs(text)?;
        (key, certs, CT_PEM)
    } else {
        let pw = password.map(|p| p.expose()).unwrap_or("");
        let c = strongbox_crypto::pkcs12::read_pfx(bytes.expose(), pw)?;
        (c.key, c.certs, CT_PKCS12)
    };
    let pkcs8 = pkcs8.ok_or_else(|| Error::bad("The certificate content has no private key."))?;
    if certs.is_empty() {
        return Err(Error::bad("The certificate content has no certificate."));
    }
    x509::check_chain(&certs)?;
    let key = x509::key_from_pkcs8(pkcs8.expose())?;
    let (leaf, rest) = split_leaf(&key, certs)?;
    let info = x509::inspect(&leaf)?;
    let chain = x509::order_chain(leaf, rest);
    Ok(ParsedImport { key, chain, info, sniffed })
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN")
}

impl Core {
    fn cert_view(&self, v: &VaultRecord, o: crate::objects::Object<CertPayload>, full: bool) -> Result<CertView> {
        let (cer, policy) = match (&o.payload, full) {
            (Some(p), true) => (Some(unb64(&p.cer)?), Some(p.policy.clone())),
            _ => (None, None),
        };
        Ok(CertView {
            attributes: Attributes::of(v, &o.meta),
            name: o.name,
            x5t: o.meta.content_type.clone(),
            version: o.meta.version,
            cer,
            policy,
            tags: o.meta.tags,
            deleted: o.deleted,
        })
    }

    fn cert_listing(&self, v: &VaultRecord, p: crate::objects::Page<CertPayload>) -> Result<CertListing> {
        let items = p.items.into_iter().map(|o| self.cert_view(v, o, false)).collect::<Result<Vec<_>>>()?;
        Ok(CertListing { items, next: p.next })
    }

    /// Refuses changes through the keys or secrets API to the objects behind a certificate
    /// (Azure: 403 `KeyManagedByKeyVault` / `SecretManagedByKeyVault`).
    pub(crate) async fn refuse_managed(&self, c: &Spec, v: &VaultRecord, name: &ObjectName, op: &str) -> Result<()> {
        let lc = name.key();
        let live = self.read_json::<HeadRec<IgnoredAny>>(&c.head_key(&v.name, &lc)).await?;
        let head = match live {
            Some(h) => Some(h),
            None => self.read_json::<HeadRec<IgnoredAny>>(&c.deleted_key(&v.name, &lc)).await?,
        };
        if head.is_some_and(|h| h.latest.managed) {
            return Err(managed_error(c, op));
        }
        Ok(())
    }

    /// Adds a new version (with the given meta and payload) of `c/{name}` to `txn`. The name
    /// must not be soft-deleted; in the key and secret collections an existing object must be
    /// managed by this certificate.
    async fn stage_version<P: Serialize + Clone>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        name: &ObjectName,
        meta: &VersionMeta,
        payload: &P,
        txn: BTxn,
    ) -> Result<BTxn> {
        let lc = name.key();
        let hk = c.head_key(&v.name, &lc);
        let dk = c.deleted_key(&v.name, &lc);
        let (display, txn) = match self.read_json_versioned::<HeadRec<IgnoredAny>>(&hk).await? {
            Some((head, stamp)) => {
                if c.heads != CERTS.heads && !head.latest.managed {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "A {} named {} already exists and is not managed by a certificate.",
                            c.noun,
                            name.as_str()
                        ),
                    ));
                }
                (head.name, txn.unchanged(&hk, &stamp))
            }
            None => {
                if self.barrier.get(&dk).await?.is_some() {
                    return Err(c.deleted_conflict(name.as_str()));
                }
                (name.as_str().to_owned(), txn.absent(&hk).absent(&dk))
            }
        };
        let vk = c.version_key(&v.name, &lc, &meta.version);
        let rec = VersionRec { meta: meta.clone(), payload: payload.clone() };
        let head =
            HeadRec { name: display, latest: meta.clone(), latest_payload: Some(payload.clone()), deleted: None };
        Ok(txn.absent(&vk).put(&vk, encode(&rec)?).put(&hk, encode(&head)?))
    }

    /// Writes a new certificate version with its key and secret, and marks the pending
    /// operation completed; all in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn commit_version(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        key: &IssueKey,
        chain: Vec<Vec<u8>>,
        policy: CertPolicy,
        tags: Option<Tags>,
        enabled: Option<bool>,
        op: Option<PendingRec>,
    ) -> Result<CertView> {
        check_tags(&tags)?;
        let leaf = chain.first().ok_or_else(|| Error::internal("empty certificate chain"))?;
        let info: CertInfo = x509::inspect(leaf)?;
        let secret = secret_value(&policy, key, &chain)?;
        let kty = match (key.kind(), policy.kty.ends_with("-HSM")) {
            (KeyKind::Rsa, false) => "RSA",
            (KeyKind::Rsa, true) => "RSA-HSM",
            (_, false) => "EC",
            (_, true) => "EC-HSM",
        };
        let key_payload: KeyPayload = match key {
            IssueKey::Soft(k) => crate::keys::payload(kty, key_ops(&policy, k.kind()), k),
            // Like `-HSM` keys made through the keys API: the record holds only the handle id.
            IssueKey::Hsm { id, handle } => KeyPayload {
                kty: kty.to_owned(),
                key_ops: key_ops(&policy, handle.kind()),
                material: SecretString::default(),
                hsm: Some(id.clone()),
                exportable: false,
                release_policy: None,
            },
        };
        let cert_payload = CertPayload {
            cer: b64(leaf),
            chain: chain.iter().skip(1).map(|c| b64(c)).collect(),
            policy: policy.clone(),
        };
        for _ in 0..CAS_RETRIES {
            let now = self.now();
            let version = Version::from_random(strongbox_crypto::random_array()?).as_str().to_owned();
            let base = VersionMeta {
                version: version.clone(),
                content_type: None,
                tags: None,
                enabled: enabled.unwrap_or(true),
                nbf: Some(info.not_before),
                exp: Some(info.not_after),
                created: now,
                updated: now,
                managed: true,
            };
            let cert_meta = VersionMeta {
                content_type: Some(info.x5t.clone()),
                tags: tags.clone(),
                managed: false,
                ..base.clone()
            };
            let secret_meta = VersionMeta { content_type: Some(policy.content_type.clone()), ..base.clone() };
            let mut txn = BTxn::new();
            txn = self.stage_version(&CERTS, v, name, &cert_meta, &cert_payload, txn).await?;
            txn = self.stage_version(&KEYS, v, name, &base, &key_payload, txn).await?;
            txn = self.stage_version(&SECRETS, v, name, &secret_meta, &secret, txn).await?;
            let ok = op.clone().map(|mut o| {
                o.status = "completed".into();
                o.status_details = None;
                o.error = None;
                o.key = None;
                o.hsm_key = None;
                o.target_version = Some(version.clone());
                o
            });
            if let Some(o) = &ok {
                txn = txn.put(op_key(&v.name, &name.key()), encode(o)?);
            }
            match self.barrier.commit(txn).await {
                Ok(()) => {
                    let o = crate::objects::Object {
                        name: name.as_str().to_owned(),
                        meta: cert_meta,
                        payload: Some(cert_payload),
                        deleted: None,
                    };
                    return self.cert_view(v, o, true);
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(CERTS.busy())
    }

    async fn read_issuer(&self, v: &VaultRecord, name: &str) -> Result<Option<IssuerRec>> {
        self.read_json(&issuer_key(&v.name, &name.to_ascii_lowercase())).await
    }

    /// Starts issuance of a new version under `policy`: completes it at once (`Self`), leaves a
    /// CSR waiting for a merge (`Unknown`), or records why the issuer cannot issue.
    async fn issue(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        policy: CertPolicy,
        tags: Option<Tags>,
        enabled: Option<bool>,
        reuse: Option<IssueKey>,
    ) -> Result<CertOperationView> {
        let (key, fresh) = match reuse {
            Some(k) if policy.reuse_key => (k, false),
            _ => (self.new_issue_key(&policy)?, true),
        };
        let mut held = false;
        let r = self.issue_with(v, name, policy, tags, enabled, &key, &mut held).await;
        // A fresh token key that no committed version or pending operation holds is destroyed.
        if fresh && !held {
            self.drop_issue_key(&key);
        }
        r
    }

    /// Generates the key a new version is issued for: in the token for `-HSM` key types.
    fn new_issue_key(&self, policy: &CertPolicy) -> Result<IssueKey> {
        if !policy.kty.ends_with("-HSM") {
            return Ok(IssueKey::Soft(new_key(policy)?));
        }
        let spec = match policy.kind()? {
            KeyKind::Rsa => KeySpec::Rsa(policy.key_size.unwrap_or(2048) as usize),
            KeyKind::Ec(c) => KeySpec::Ec(c),
            KeyKind::Oct => return Err(Error::bad("Certificates need an RSA or EC key.")),
        };
        let (id, handle) = self.key_provider()?.generate(spec)?;
        Ok(IssueKey::Hsm { id, handle })
    }

    /// Destroys the token object of a key that was not kept (best effort, logged).
    fn drop_issue_key(&self, key: &IssueKey) {
        if let IssueKey::Hsm { id, .. } = key {
            self.drop_hsm_id(id);
        }
    }

    fn drop_hsm_id(&self, id: &str) {
        if let Err(e) = self.key_provider().and_then(|p| p.destroy(id)) {
            tracing::warn!(error = %e, "could not destroy the HSM key of a certificate that was not issued");
        }
    }

    /// `issue` with the key chosen. Sets `held` once a committed version or a pending operation
    /// holds the key.
    #[allow(clippy::too_many_arguments)]
    async fn issue_with(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        policy: CertPolicy,
        tags: Option<Tags>,
        enabled: Option<bool>,
        key: &IssueKey,
        held: &mut bool,
    ) -> Result<CertOperationView> {
        let lc = name.key();
        let mut op = PendingRec {
            name: name.as_str().to_owned(),
            issuer: policy.issuer.clone(),
            cert_type: policy.cert_type.clone(),
            cert_transparency: policy.cert_transparency,
            status: "inProgress".into(),
            status_details: Some("Pending certificate created. Certificate request is in progress.".into()),
            error: None,
            csr: None,
            target_version: None,
            request_id: strongbox_crypto::hex(&strongbox_crypto::random_array::<16>()?),
            cancellation_requested: false,
            key: None,
            hsm_key: None,
            policy: policy.clone(),
            tags: tags.clone(),
            enabled,
            created: self.now(),
        };
        let now = self.now();
        match policy.issuer.as_str() {
            "Self" => {
                let der = x509::self_signed_by(&spec_of(&policy, now)?, key.cert_key())?;
                self.commit_version(v, name, key, vec![der], policy, tags, enabled, Some(op.clone())).await?;
                *held = true;
                let done: PendingRec =
                    self.read_json(&op_key(&v.name, &lc)).await?.ok_or_else(|| op_not_found(name.as_str()))?;
                return Ok(view_op(&done));
            }
            "Unknown" => {
                let csr = x509::csr_by(&spec_of(&policy, now)?, key.cert_key())?;
                op.csr = Some(b64(&csr));
                op.status_details =
                    Some("Pending certificate created. Please Perform Merge to complete the request.".into());
                match key {
                    IssueKey::Soft(k) => op.key = Some(key_hex(k)),
                    IssueKey::Hsm { id, .. } => op.hsm_key = Some(id.clone()),
                }
            }
            other => {
                // A built-in CA of this vault signs at once.
                if let Some(chain) = self.issue_with_ca(v, other, spec_of(&policy, now)?, key.cert_key()).await? {
                    self.commit_version(v, name, key, chain, policy, tags, enabled, Some(op.clone())).await?;
                    *held = true;
                    let done: PendingRec =
                        self.read_json(&op_key(&v.name, &lc)).await?.ok_or_else(|| op_not_found(name.as_str()))?;
                    return Ok(view_op(&done));
                }
                let provider = match self.read_issuer(v, other).await? {
                    Some(i) => i.provider,
                    None => {
                        return Err(Error::bad(format!(
                            "The issuer '{}' is neither a certificate issuer nor a certificate authority of this vault; create it first, or use Self or Unknown.",
                            other.chars().take(64).collect::<String>()
                        )));
                    }
                };
                op.status = "failed".into();
                op.status_details = None;
                op.error = Some(OperationError {
                    code: "CertificateIssuerUnreachable".into(),
                    message: format!(
                        "The issuer '{other}' uses the provider '{provider}', which this Strongbox deployment cannot reach (no outside network). No certificate was issued."
                    ),
                });
            }
        }
        // The CSR's key waits in the operation record (encrypted by the barrier like any key).
        self.barrier.commit(BTxn::new().put(op_key(&v.name, &lc), encode(&op)?)).await?;
        *held = op.hsm_key.is_some();
        Ok(view_op(&op))
    }

    async fn pending_in_progress(&self, v: &VaultRecord, lc: &str) -> Result<bool> {
        Ok(self.read_json::<PendingRec>(&op_key(&v.name, lc)).await?.is_some_and(|o| o.status == "inProgress"))
    }

    /// Azure: "A new key vault certificate can not be created or imported while a pending key
    /// vault certificate's status is inProgress" (409).
    async fn refuse_pending(&self, v: &VaultRecord, name: &ObjectName) -> Result<()> {
        if self.pending_in_progress(v, &name.key()).await? {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress ({name})."
                ),
            ));
        }
        Ok(())
    }

    async fn refuse_deleted_cert(&self, v: &VaultRecord, name: &ObjectName) -> Result<()> {
        if self.barrier.get(&CERTS.deleted_key(&v.name, &name.key())).await?.is_some() {
            return Err(CERTS.deleted_conflict(name.as_str()));
        }
        Ok(())
    }

    /// `POST /certificates/{name}/create`.
    pub async fn create_certificate(
        &self,
        vault: &str,
        name: &str,
        req: CreateCertificate,
    ) -> Result<CertOperationView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        check_tags(&req.tags)?;
        let input = req.policy.ok_or_else(|| Error::bad("The 'policy' member is required."))?;
        let policy = policy::build(&input, None, &v, self.now())?;
        self.refuse_deleted_cert(&v, &name).await?;
        self.refuse_pending(&v, &name).await?;
        let mut op = self.issue(&v, &name, policy, req.tags, req.enabled, None).await?;
        // The create response always shows the request in progress, as Azure's does; the
        // outcome (completed here at once for `Self`, or failed) is what `GET …/pending` shows.
        // The SDK pollers depend on this: they only poll when the first answer is in progress.
        if op.status != "inProgress" {
            op.status = "inProgress".into();
            op.status_details = Some("Pending certificate created. Certificate request is in progress.".into());
            op.error = None;
            op.target_version = None;
        }
        Ok(op)
    }

    /// `POST /certificates/{name}/import`: PFX (base64, with `pwd`) or PEM (key, certificate,
    /// chain).
    pub async fn import_certificate(&self, vault: &str, name: &str, req: ImportCertificate) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        check_tags(&req.tags)?;
        let raw = req.value.expose().trim();
        if raw.is_empty() {
            return Err(Error::bad("The 'value' member is required."));
        }
        let password = req.password.clone();
        let value = req.value.clone();
        let parsed = run_import_parse(move || parse_import(&value, password.as_ref())).await?;
        let ParsedImport { key, chain, info, sniffed } = parsed;
        let derived = policy::from_certificate(&info, &key, sniffed);
        let policy = match &req.policy {
            Some(input) => policy::build(input, Some(&derived), &v, self.now())?,
            None => policy::build(&PolicyInput::default(), Some(&derived), &v, self.now())?,
        };
        if policy.kind()? != key.kind() {
            return Err(Error::bad("The policy's key type does not match the imported key."));
        }
        if policy.kty.ends_with("-HSM") {
            return Err(Error::new(
                ErrorKind::NotImplemented,
                "Importing a certificate with an HSM-protected key (RSA-HSM, EC-HSM) is not available in this Strongbox release yet.",
            ));
        }
        let key = IssueKey::Soft(key);
        self.refuse_deleted_cert(&v, &name).await?;
        self.refuse_pending(&v, &name).await?;
        self.commit_version(&v, &name, &key, chain, policy, req.tags, req.enabled, None).await
    }

    /// `GET /certificates/{name}[/{version}]`.
    pub async fn get_certificate(&self, vault: &str, name: &str, version: Option<&str>) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let o = self.obj_get::<CertPayload>(&CERTS, &v, &name, version).await?;
        self.cert_view(&v, o, true)
    }

    /// `PATCH /certificates/{name}[/{version}]`: tags and `enabled` of one version (kept in step
    /// on its key and secret), and optionally the policy.
    pub async fn update_certificate(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        mut upd: CertUpdate,
    ) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let new_policy = match upd.policy.take() {
            Some(p) => Some(self.update_certificate_policy(vault, name.as_str(), p).await?),
            None => None,
        };
        let o = self
            .obj_update::<CertPayload, _>(&CERTS, &v, &name, version, |m, _| {
                if let Some(t) = &upd.tags {
                    m.tags = Some(t.clone());
                }
                if let Some(e) = upd.enabled {
                    m.enabled = e;
                }
                Ok(())
            })
            .await?;
        if let Some(e) = upd.enabled {
            let ver = o.meta.version.clone();
            self.obj_update::<KeyPayload, _>(&KEYS, &v, &name, Some(&ver), |m, _| {
                m.enabled = e;
                Ok(())
            })
            .await?;
            self.obj_update::<SecretString, _>(&SECRETS, &v, &name, Some(&ver), |m, _| {
                m.enabled = e;
                Ok(())
            })
            .await?;
        }
        self.forget_key_ops(&v.name, &name.key());
        // `o` may be an older version, holding an older policy: show the one just set.
        let mut view = self.cert_view(&v, o, true)?;
        if new_policy.is_some() {
            view.policy = new_policy;
        }
        Ok(view)
    }

    pub async fn list_certificates(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<CertListing> {
        let v = self.vault(vault).await?;
        let p = self.obj_list(&CERTS, &v, false, resume, max).await?;
        self.cert_listing(&v, p)
    }

    /// `GET /certificates?includePending=true`: issued certificates by name, then those that
    /// exist only as an operation in progress (shown disabled, without a version, as Azure lists
    /// them). Every page holds at most `max` items; the resume token is the storage key of the
    /// next item, a `certop/…` key once the listing has reached the pending part.
    pub async fn list_certificates_with_pending(
        &self,
        vault: &str,
        resume: Option<&str>,
        max: usize,
    ) -> Result<CertListing> {
        let v = self.vault(vault).await?;
        let pending_prefix = format!("certop/{}/", v.name);
        let (mut items, pending_from) = match resume {
            Some(r) if r.starts_with(&pending_prefix) => (Vec::new(), r.to_owned()),
            _ => {
                let l = self.cert_listing(&v, self.obj_list(&CERTS, &v, false, resume, max).await?)?;
                if l.next.is_some() {
                    return Ok(l);
                }
                (l.items, pending_prefix.clone())
            }
        };
        let room = max.saturating_sub(items.len());
        let (pending, next) = self.pending_page(&v, &pending_from, room).await?;
        items.extend(pending);
        Ok(CertListing { items, next })
    }

    /// Up to `room` pending-only certificates from the storage key `from` on, and the key of the
    /// next one if there is one more.
    async fn pending_page(&self, v: &VaultRecord, from: &str, room: usize) -> Result<(Vec<CertView>, Option<String>)> {
        let prefix = format!("certop/{}/", v.name);
        let mut start = from.to_owned();
        let mut out = Vec::new();
        loop {
            let rows = self.barrier.scan_prefix(&prefix, &start, 100).await?;
            let Some((last, _)) = rows.last() else { return Ok((out, None)) };
            start = format!("{last}\0");
            for (k, b) in rows {
                let op: PendingRec = decode(&k, &b)?;
                let lc = op.name.to_ascii_lowercase();
                if op.status != "inProgress" || self.barrier.get(&CERTS.head_key(&v.name, &lc)).await?.is_some() {
                    continue;
                }
                if out.len() == room {
                    return Ok((out, Some(k)));
                }
                let meta = VersionMeta {
                    version: String::new(),
                    content_type: None,
                    tags: None,
                    enabled: false,
                    nbf: None,
                    exp: None,
                    created: op.created,
                    updated: op.created,
                    managed: false,
                };
                out.push(CertView {
                    attributes: Attributes::of(v, &meta),
                    name: op.name,
                    version: String::new(),
                    cer: None,
                    x5t: None,
                    policy: None,
                    tags: op.tags,
                    deleted: None,
                });
            }
        }
    }

    pub async fn list_deleted_certificates(
        &self,
        vault: &str,
        resume: Option<&str>,
        max: usize,
    ) -> Result<CertListing> {
        let v = self.vault(vault).await?;
        let p = self.obj_list(&CERTS, &v, true, resume, max).await?;
        self.cert_listing(&v, p)
    }

    pub async fn list_certificate_versions(
        &self,
        vault: &str,
        name: &str,
        resume: Option<&str>,
        max: usize,
    ) -> Result<CertListing> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let p = self.obj_list_versions(&CERTS, &v, &name, resume, max).await?;
        self.cert_listing(&v, p)
    }

    /// `GET /certificates/{name}/policy` (also while the first version waits for a merge).
    pub async fn get_certificate_policy(&self, vault: &str, name: &str) -> Result<CertPolicy> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let lc = name.key();
        if let Some(head) = self.read_json::<HeadRec<CertPayload>>(&CERTS.head_key(&v.name, &lc)).await? {
            if let Some(p) = head.latest_payload {
                return Ok(p.policy);
            }
            let rec: VersionRec<CertPayload> = self
                .read_json(&CERTS.version_key(&v.name, &lc, &head.latest.version))
                .await?
                .ok_or_else(|| CERTS.not_found(name.as_str(), None))?;
            return Ok(rec.payload.policy);
        }
        match self.read_json::<PendingRec>(&op_key(&v.name, &lc)).await? {
            Some(op) => Ok(op.policy),
            None => Err(CERTS.not_found(name.as_str(), None)),
        }
    }

    /// `PATCH /certificates/{name}/policy`: merges the given members into the current policy.
    pub async fn update_certificate_policy(&self, vault: &str, name: &str, input: PolicyInput) -> Result<CertPolicy> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let now = self.now();
        let mut result = None;
        let updated = self
            .obj_update::<CertPayload, _>(&CERTS, &v, &name, None, |_, p| {
                let np = merged_policy(&input, &p.policy, &v, now)?;
                p.policy = np.clone();
                result = Some(np);
                Ok(())
            })
            .await;
        match updated {
            Ok(_) => result.ok_or_else(|| Error::internal("policy update produced nothing")),
            Err(e) if e.kind == ErrorKind::CertificateNotFound => {
                // A certificate waiting for its first merge keeps its policy in the operation.
                let k = op_key(&v.name, &name.key());
                let (mut op, stamp) = self.read_json_versioned::<PendingRec>(&k).await?.ok_or(e)?;
                let np = merged_policy(&input, &op.policy, &v, now)?;
                op.policy = np.clone();
                self.barrier.commit(BTxn::new().unchanged(&k, &stamp).put(&k, encode(&op)?)).await?;
                Ok(np)
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /certificates/{name}/pending`.
    pub async fn get_certificate_operation(&self, vault: &str, name: &str) -> Result<CertOperationView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let op: PendingRec =
            self.read_json(&op_key(&v.name, &name.key())).await?.ok_or_else(|| op_not_found(name.as_str()))?;
        Ok(view_op(&op))
    }

    /// `PATCH /certificates/{name}/pending` with `cancellation_requested`.
    pub async fn cancel_certificate_operation(
        &self,
        vault: &str,
        name: &str,
        cancel: bool,
    ) -> Result<CertOperationView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let k = op_key(&v.name, &name.key());
        let (mut op, stamp) =
            self.read_json_versioned::<PendingRec>(&k).await?.ok_or_else(|| op_not_found(name.as_str()))?;
        if cancel && op.status != "inProgress" {
            return Err(Error::bad(format!(
                "The pending operation of certificate {name} is not in progress (status: {}); it cannot be cancelled.",
                op.status
            )));
        }
        if cancel {
            op.cancellation_requested = true;
            op.status = "cancelled".into();
            op.status_details = Some("The certificate operation was cancelled.".into());
            op.key = None;
            let hsm_key = op.hsm_key.take();
            self.barrier.commit(BTxn::new().unchanged(&k, &stamp).put(&k, encode(&op)?)).await?;
            if let Some(id) = hsm_key {
                self.drop_hsm_id(&id);
            }
        }
        Ok(view_op(&op))
    }

    /// `DELETE /certificates/{name}/pending`.
    pub async fn delete_certificate_operation(&self, vault: &str, name: &str) -> Result<CertOperationView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let k = op_key(&v.name, &name.key());
        let (op, stamp) =
            self.read_json_versioned::<PendingRec>(&k).await?.ok_or_else(|| op_not_found(name.as_str()))?;
        self.barrier.commit(BTxn::new().unchanged(&k, &stamp).delete(&k)).await?;
        if let Some(id) = &op.hsm_key {
            self.drop_hsm_id(id);
        }
        Ok(view_op(&op))
    }

    /// `POST /certificates/{name}/pending/merge`: completes an `Unknown`-issuer operation with the
    /// certificate signed elsewhere (and its chain). The leaf must carry the pending key.
    pub async fn merge_certificate(&self, vault: &str, name: &str, req: MergeCertificate) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let op: PendingRec =
            self.read_json(&op_key(&v.name, &name.key())).await?.ok_or_else(|| op_not_found(name.as_str()))?;
        let key = match (&op.key, &op.hsm_key, op.status.as_str()) {
            (Some(k), _, "inProgress") => IssueKey::Soft(key_from_hex(k)?),
            (None, Some(id), "inProgress") => IssueKey::Hsm { id: id.clone(), handle: self.key_provider()?.open(id)? },
            _ => {
                return Err(Error::bad(format!(
                    "Certificate {name} has no pending operation waiting for a merge (status: {}).",
                    op.status
                )));
            }
        };
        let leaf = req.x5c.first().ok_or_else(|| Error::bad("The 'x5c' member needs at least one certificate."))?;
        x509::check_chain(&req.x5c)?;
        let info = x509::inspect(leaf)?;
        if info.spki != x509::spki_by(key.cert_key())? {
            return Err(Error::bad(
                "Public key from x509 certificate and key of this instance doesn't match: the merged certificate was not issued for this certificate's pending request.",
            ));
        }
        let (leaf, rest) = (leaf.clone(), req.x5c.iter().skip(1).cloned().collect());
        let chain = run_import_parse(move || Ok(x509::order_chain(leaf, rest))).await?;
        let tags = req.tags.or(op.tags.clone());
        let enabled = req.enabled.or(op.enabled);
        let policy = op.policy.clone();
        self.refuse_deleted_cert(&v, &name).await?;
        self.commit_version(&v, &name, &key, chain, policy, tags, enabled, Some(op)).await
    }

    /// Moves `c/{name}` to deleted in `txn`; `None` when there is no live head.
    async fn stage_delete<P: Serialize + DeserializeOwned>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        lc: &str,
        info: DeletedInfo,
        txn: BTxn,
    ) -> Result<(BTxn, bool)> {
        let hk = c.head_key(&v.name, lc);
        let dk = c.deleted_key(&v.name, lc);
        let Some((mut head, stamp)) = self.read_json_versioned::<HeadRec<P>>(&hk).await? else {
            return Ok((txn, false));
        };
        head.deleted = Some(info);
        let txn = txn
            .unchanged(&hk, &stamp)
            .absent(&dk)
            .delete(&hk)
            .put(&dk, encode(&head)?)
            .put(c.purge_key(info.scheduled_purge_date, &v.name, lc), Vec::new());
        Ok((txn, true))
    }

    async fn stage_recover<P: Serialize + DeserializeOwned>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        lc: &str,
        txn: BTxn,
    ) -> Result<(BTxn, bool)> {
        let hk = c.head_key(&v.name, lc);
        let dk = c.deleted_key(&v.name, lc);
        let Some((mut head, stamp)) = self.read_json_versioned::<HeadRec<P>>(&dk).await? else {
            return Ok((txn, false));
        };
        let mut txn = txn.unchanged(&dk, &stamp).absent(&hk).delete(&dk);
        if let Some(info) = head.deleted.take() {
            txn = txn.delete(c.purge_key(info.scheduled_purge_date, &v.name, lc));
        }
        Ok((txn.put(&hk, encode(&head)?), true))
    }

    /// `DELETE /certificates/{name}`: soft delete of the certificate with its key and secret
    /// (every version) and its pending operation.
    pub async fn delete_certificate(&self, vault: &str, name: &str) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let lc = name.key();
        for _ in 0..CAS_RETRIES {
            let now = self.now();
            let info =
                DeletedInfo { deleted_date: now, scheduled_purge_date: now + i64::from(v.retention_days) * 86_400 };
            let (txn, found) = self.stage_delete::<CertPayload>(&CERTS, &v, &lc, info, BTxn::new()).await?;
            if !found {
                return Err(CERTS.not_found(name.as_str(), None));
            }
            let (txn, _) = self.stage_delete::<KeyPayload>(&KEYS, &v, &lc, info, txn).await?;
            let (txn, _) = self.stage_delete::<SecretString>(&SECRETS, &v, &lc, info, txn).await?;
            let txn = txn.delete(op_key(&v.name, &lc));
            match self.barrier.commit(txn).await {
                Ok(()) => {
                    self.forget_key_ops(&v.name, &lc);
                    let o = self.obj_get_deleted::<CertPayload>(&CERTS, &v, &name).await?;
                    return self.cert_view(&v, o, true);
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(CERTS.busy())
    }

    pub async fn get_deleted_certificate(&self, vault: &str, name: &str) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let o = self.obj_get_deleted::<CertPayload>(&CERTS, &v, &name).await?;
        self.cert_view(&v, o, true)
    }

    /// `POST /deletedcertificates/{name}/recover`: the certificate, key and secret come back.
    pub async fn recover_certificate(&self, vault: &str, name: &str) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let lc = name.key();
        let (txn, found) = self.stage_recover::<CertPayload>(&CERTS, &v, &lc, BTxn::new()).await?;
        if !found {
            return Err(CERTS.deleted_not_found(name.as_str()));
        }
        let (txn, _) = self.stage_recover::<KeyPayload>(&KEYS, &v, &lc, txn).await?;
        let (txn, _) = self.stage_recover::<SecretString>(&SECRETS, &v, &lc, txn).await?;
        self.barrier.commit(txn).await?;
        self.forget_key_ops(&v.name, &lc);
        self.get_certificate(vault, name.as_str(), None).await
    }

    /// `DELETE /deletedcertificates/{name}`: permanent removal of all three.
    pub async fn purge_certificate(&self, vault: &str, name: &str) -> Result<()> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        if v.purge_protection {
            return Err(Error::new(
                ErrorKind::PurgeProtected,
                format!(
                    "Operation 'PurgeDeletedCertificate' is not allowed because purge protection is enabled for vault '{}'. The certificate will be purged automatically after its retention period.",
                    v.name
                ),
            ));
        }
        let lc = name.key();
        if !self.purge_now(&CERTS, &v.name, &lc, None).await? {
            return Err(CERTS.deleted_not_found(name.as_str()));
        }
        self.purge_now(&KEYS, &v.name, &lc, None).await?;
        self.purge_now(&SECRETS, &v.name, &lc, None).await?;
        Ok(())
    }

    /// `POST /certificates/{name}/backup`: the certificate, key and secret backups in one blob
    /// (`SBC1` ‖ three length-prefixed blobs, each encrypted and authenticated on its own).
    pub async fn backup_certificate(&self, vault: &str, name: &str) -> Result<Vec<u8>> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let parts = [
            self.obj_backup::<CertPayload>(&CERTS, &v, &name).await?,
            self.obj_backup::<KeyPayload>(&KEYS, &v, &name).await?,
            self.obj_backup::<SecretString>(&SECRETS, &v, &name).await?,
        ];
        let mut out = BACKUP_MAGIC.to_vec();
        for p in parts {
            let len = u32::try_from(p.len()).map_err(|_| Error::internal("backup part too large"))?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&p);
        }
        Ok(out)
    }

    /// `POST /certificates/restore`.
    pub async fn restore_certificate(&self, vault: &str, blob: &[u8]) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let invalid = || Error::bad("The backup blob is invalid, corrupt, or was not created by this deployment.");
        let mut rest = blob.strip_prefix(BACKUP_MAGIC.as_slice()).ok_or_else(invalid)?;
        let mut parts = Vec::new();
        for _ in 0..3 {
            let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(invalid)?;
            let len = u32::from_be_bytes(*len) as usize;
            if tail.len() < len {
                return Err(invalid());
            }
            let (p, tail) = tail.split_at(len);
            parts.push(p);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(invalid());
        }
        // Every name the blob writes is checked first and all three objects are written in one
        // transaction: a taken key or secret name refuses the whole restore, nothing is written.
        let cd = self.obj_open_backup::<CertPayload>(&CERTS, parts[0])?;
        let kd = self.obj_open_backup::<KeyPayload>(&KEYS, parts[1])?;
        let sd = self.obj_open_backup::<SecretString>(&SECRETS, parts[2])?;
        // The three inner blobs must describe one certificate: the same name, the same versions
        // and latest version, and a key and secret managed by it.
        let versions = |vs: Vec<&VersionMeta>| -> Vec<String> {
            let mut ids: Vec<String> = vs.into_iter().map(|m| m.version.clone()).collect();
            ids.sort();
            ids
        };
        let cert_versions = versions(cd.versions.iter().map(|r| &r.meta).collect());
        let consistent = kd.name.eq_ignore_ascii_case(&cd.name)
            && sd.name.eq_ignore_ascii_case(&cd.name)
            && kd.latest == cd.latest
            && sd.latest == cd.latest
            && versions(kd.versions.iter().map(|r| &r.meta).collect()) == cert_versions
            && versions(sd.versions.iter().map(|r| &r.meta).collect()) == cert_versions
            && kd.versions.iter().all(|r| r.meta.managed)
            && sd.versions.iter().all(|r| r.meta.managed);
        if !consistent {
            return Err(Error::bad(
                "The backup blob is invalid: its certificate, key and secret parts do not belong to one certificate.",
            ));
        }
        let (o, txn) = self.obj_stage_restore::<CertPayload>(&CERTS, &v, cd, BTxn::new()).await?;
        let (_, txn) = self
            .obj_stage_restore::<KeyPayload>(&KEYS, &v, kd, txn)
            .await
            .map_err(|e| name_taken(&KEYS, &o.name, e))?;
        let (_, txn) = self
            .obj_stage_restore::<SecretString>(&SECRETS, &v, sd, txn)
            .await
            .map_err(|e| name_taken(&SECRETS, &o.name, e))?;
        self.barrier.commit(txn).await.map_err(|e| {
            if e.kind == ErrorKind::Conflict {
                Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "Certificate {} cannot be restored: its name, or the name of its key or secret, was taken meanwhile. Nothing was restored.",
                        o.name
                    ),
                )
            } else {
                e
            }
        })?;
        self.forget_key_ops(&v.name, &o.name.to_ascii_lowercase());
        self.cert_view(&v, o, true)
    }

    /// `GET /secrets/{name}[/{version}]?outContentType=…`: a certificate's secret converted to
    /// the other format (PFX ↔ PEM).
    pub async fn get_secret_as(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        out: &str,
    ) -> Result<crate::SecretView> {
        if out != CT_PKCS12 && out != CT_PEM {
            return Err(Error::bad(format!(
                "outContentType '{}' is not supported; use {CT_PKCS12} or {CT_PEM}.",
                out.chars().take(64).collect::<String>()
            )));
        }
        let mut s = self.get_secret(vault, name, version).await?;
        if !s.managed {
            return Err(Error::bad("outContentType applies only to the secrets of certificates."));
        }
        let from = s.content_type.clone().unwrap_or_else(|| CT_PKCS12.into());
        if from != out {
            let value = s.value.take().ok_or_else(|| Error::internal("certificate secret without a value"))?;
            let (key, chain) = decode_secret(&from, &value)?;
            s.value = Some(encode_secret(out, key.as_ref(), &chain)?);
            s.content_type = Some(out.to_owned());
        }
        Ok(s)
    }

    // ---- contacts ----------------------------------------------------------------------

    pub async fn get_certificate_contacts(&self, vault: &str) -> Result<Vec<Contact>> {
        let v = self.vault(vault).await?;
        self.read_json::<Vec<Contact>>(&contacts_key(&v.name))
            .await?
            .ok_or_else(|| Error::new(ErrorKind::ContactsNotFound, "Contacts not found"))
    }

    pub async fn set_certificate_contacts(&self, vault: &str, contacts: Vec<Contact>) -> Result<Vec<Contact>> {
        let v = self.vault(vault).await?;
        if contacts.len() > MAX_CONTACTS {
            return Err(Error::bad(format!("At most {MAX_CONTACTS} certificate contacts are allowed.")));
        }
        for c in &contacts {
            match &c.email {
                Some(e) if policy::valid_email(e) => {}
                _ => return Err(Error::bad("Every certificate contact needs a valid 'email'.")),
            }
        }
        self.barrier.commit(BTxn::new().put(contacts_key(&v.name), encode(&contacts)?)).await?;
        Ok(contacts)
    }

    pub async fn delete_certificate_contacts(&self, vault: &str) -> Result<Vec<Contact>> {
        let v = self.vault(vault).await?;
        let k = contacts_key(&v.name);
        let (c, stamp) = self
            .read_json_versioned::<Vec<Contact>>(&k)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::ContactsNotFound, "Contacts not found"))?;
        self.barrier.commit(BTxn::new().unchanged(&k, &stamp).delete(&k)).await?;
        Ok(c)
    }

    // ---- issuers -----------------------------------------------------------------------

    fn issuer_not_found(name: &str) -> Error {
        Error::new(ErrorKind::IssuerNotFound, format!("Issuer not found: {name}"))
    }

    /// `PUT /certificates/issuers/{name}` (create or replace).
    pub async fn set_certificate_issuer(&self, vault: &str, name: &str, input: IssuerInput) -> Result<IssuerView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        if ["self", "unknown"].contains(&name.key().as_str()) {
            return Err(Error::bad("'Self' and 'Unknown' are reserved issuer names."));
        }
        let provider = input
            .provider
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| Error::bad("The 'provider' member is required (for example DigiCert or GlobalSign)."))?;
        let now = self.now();
        let k = issuer_key(&v.name, &name.key());
        let old: Option<IssuerRec> = self.read_json(&k).await?;
        let rec = IssuerRec {
            name: name.as_str().to_owned(),
            provider,
            account_id: input.account_id,
            password: input.password,
            org_id: input.org_id,
            admin_details: input.admin_details.unwrap_or_default(),
            enabled: input.enabled.unwrap_or(true),
            created: old.map(|o| o.created).unwrap_or(now),
            updated: now,
        };
        self.barrier.commit(BTxn::new().put(&k, encode(&rec)?)).await?;
        Ok(view_issuer(rec))
    }

    /// `PATCH /certificates/issuers/{name}`.
    pub async fn update_certificate_issuer(&self, vault: &str, name: &str, input: IssuerInput) -> Result<IssuerView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let k = issuer_key(&v.name, &name.key());
        let (mut rec, stamp) =
            self.read_json_versioned::<IssuerRec>(&k).await?.ok_or_else(|| Self::issuer_not_found(name.as_str()))?;
        if let Some(p) = input.provider.filter(|p| !p.trim().is_empty()) {
            rec.provider = p;
        }
        if input.account_id.is_some() {
            rec.account_id = input.account_id;
        }
        if input.password.is_some() {
            rec.password = input.password;
        }
        if input.org_id.is_some() {
            rec.org_id = input.org_id;
        }
        if let Some(a) = input.admin_details {
            rec.admin_details = a;
        }
        if let Some(e) = input.enabled {
            rec.enabled = e;
        }
        rec.updated = self.now();
        self.barrier.commit(BTxn::new().unchanged(&k, &stamp).put(&k, encode(&rec)?)).await?;
        Ok(view_issuer(rec))
    }

    pub async fn get_certificate_issuer(&self, vault: &str, name: &str) -> Result<IssuerView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        self.read_issuer(&v, name.as_str()).await?.map(view_issuer).ok_or_else(|| Self::issuer_not_found(name.as_str()))
    }

    pub async fn delete_certificate_issuer(&self, vault: &str, name: &str) -> Result<IssuerView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let k = issuer_key(&v.name, &name.key());
        let (rec, stamp) =
            self.read_json_versioned::<IssuerRec>(&k).await?.ok_or_else(|| Self::issuer_not_found(name.as_str()))?;
        self.barrier.commit(BTxn::new().unchanged(&k, &stamp).delete(&k)).await?;
        Ok(view_issuer(rec))
    }

    /// `GET /certificates/issuers`: one page of issuers, by name.
    pub async fn list_certificate_issuers(
        &self,
        vault: &str,
        resume: Option<&str>,
        max: usize,
    ) -> Result<(Vec<IssuerView>, Option<String>)> {
        let v = self.vault(vault).await?;
        let prefix = format!("certissuer/{}/", v.name);
        let start = match resume {
            None => prefix.clone(),
            Some(r) if r.starts_with(&prefix) => r.to_owned(),
            Some(_) => return Err(Error::bad("The $skiptoken does not belong to this listing.")),
        };
        let mut rows = self.barrier.scan_prefix(&prefix, &start, max + 1).await?;
        let next = if rows.len() > max { rows.pop().map(|(k, _)| k) } else { None };
        let items = rows.iter().map(|(k, b)| decode::<IssuerRec>(k, b).map(view_issuer)).collect::<Result<Vec<_>>>()?;
        Ok((items, next))
    }

    // ---- renewal -----------------------------------------------------------------------

    /// Carries out due lifetime actions of every live certificate: `AutoRenew` issues a new
    /// version (a new key unless `reuse_key`), `EmailContacts` raises one notification per
    /// version. Returns how many certificates were renewed.
    pub async fn renew_due_certificates(&self) -> Result<usize> {
        let now = self.now();
        let prefix = CERTS.heads.prefix.to_owned();
        let mut start = prefix.clone();
        let mut renewed = 0;
        loop {
            let rows = self.barrier.scan_prefix(&prefix, &start, 100).await?;
            let Some((last, _)) = rows.last() else { return Ok(renewed) };
            start = format!("{last}\0");
            for (k, b) in rows {
                let head: HeadRec<CertPayload> = decode(&k, &b)?;
                let Some(payload) = head.latest_payload else { continue };
                let Some(vault) = k.split('/').nth(1) else { continue };
                let (Some(nbf), Some(exp)) = (head.latest.nbf, head.latest.exp) else { continue };
                for a in &payload.policy.lifetime_actions {
                    let due_at = match (a.lifetime_percentage, a.days_before_expiry) {
                        (Some(p), _) => nbf + (exp - nbf) * i64::from(p) / 100,
                        (None, Some(d)) => exp - i64::from(d) * 86_400,
                        _ => continue,
                    };
                    if now < due_at {
                        continue;
                    }
                    match a.action.as_str() {
                        "AutoRenew" => match self.renew(vault, &head.name, &payload, &head.latest).await {
                            Ok(true) => renewed += 1,
                            Ok(false) => {}
                            Err(e) => {
                                tracing::warn!(vault = %vault, certificate = %head.name, error = %e, "certificate renewal failed")
                            }
                        },
                        _ => self.notify_contacts(vault, &head.name, &head.latest.version).await?,
                    }
                }
            }
        }
    }

    async fn renew(&self, vault: &str, name: &str, p: &CertPayload, meta: &VersionMeta) -> Result<bool> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        if p.policy.issuer == "Unknown" || self.pending_in_progress(&v, &name.key()).await? {
            return Ok(false);
        }
        // Only issuers that can sign here renew (a public CA's would fail again every round).
        if p.policy.issuer != "Self" && !self.has_ca(&v, &p.policy.issuer).await? {
            return Ok(false);
        }
        let reuse = if p.policy.reuse_key {
            let k = self.obj_get::<KeyPayload>(&KEYS, &v, &name, Some(&meta.version)).await?;
            let kp = k.payload.ok_or_else(|| Error::internal("key payload missing"))?;
            Some(match &kp.hsm {
                Some(id) => IssueKey::Hsm { id: id.clone(), handle: self.key_provider()?.open(id)? },
                None => IssueKey::Soft(crate::keys::material_of(&kp)?),
            })
        } else {
            None
        };
        let op = self.issue(&v, &name, p.policy.clone(), meta.tags.clone(), Some(true), reuse).await?;
        tracing::info!(vault = %vault, certificate = %name, status = %op.status, "certificate auto-renewal");
        Ok(op.status == "completed")
    }

    /// The hook for `EmailContacts` lifetime actions: recorded once per version; delivery comes
    /// with the events work.
    async fn notify_contacts(&self, vault: &str, name: &str, version: &str) -> Result<()> {
        let k = format!("certnote/{vault}/{}/{version}", name.to_ascii_lowercase());
        if self.barrier.get(&k).await?.is_some() {
            return Ok(());
        }
        self.barrier
            .commit(BTxn::new().absent(&k).put(&k, encode(&self.now())?))
            .await
            .or_else(|e| if e.kind == ErrorKind::Conflict { Ok(()) } else { Err(e) })?;
        tracing::info!(vault = %vault, certificate = %name, version = %version, "certificate lifetime action: notify contacts");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_output_hides_values_passwords_and_keys() {
        let imp = ImportCertificate {
            value: SecretString::new("PFXVALUE-SENTINEL".into()),
            password: Some(SecretString::new("PFXPASS-SENTINEL".into())),
            policy: None,
            tags: None,
            enabled: None,
        };
        let issuer =
            IssuerInput { password: Some(SecretString::new("ISSUERPASS-SENTINEL".into())), ..Default::default() };
        let key = KeyMaterial::generate_ec(strongbox_crypto::keys::Curve::P256).unwrap();
        let hex = key_hex(&key);
        let text = format!("{imp:?} {issuer:?} {hex:?}");
        for s in ["PFXVALUE-SENTINEL", "PFXPASS-SENTINEL", "ISSUERPASS-SENTINEL", hex.expose()] {
            assert!(!text.contains(s), "{text}");
        }
    }

    #[test]
    fn secrets_convert_between_pfx_and_pem() {
        let key = KeyMaterial::generate_rsa(2048).unwrap();
        let spec = X509Spec {
            subject: "CN=c".into(),
            not_before: 1_700_000_000,
            not_after: 1_800_000_000,
            ..Default::default()
        };
        let cert = x509::self_signed(&spec, &key).unwrap();
        let pk = x509::pkcs8_of(&key);
        let pfx = encode_secret(CT_PKCS12, Some(&pk), std::slice::from_ref(&cert)).unwrap();
        let (k, chain) = decode_secret(CT_PKCS12, &pfx).unwrap();
        let pem = encode_secret(CT_PEM, k.as_ref(), &chain).unwrap();
        assert!(pem.expose().starts_with("-----BEGIN PRIVATE KEY-----"));
        let (k2, chain2) = decode_secret(CT_PEM, &pem).unwrap();
        assert_eq!(k2.unwrap().expose(), pk.expose());
        assert_eq!(chain2, vec![cert]);
        assert!(x509::add_months(0, 12).unwrap() > 0);
    }

    #[test]
    fn pem_takes_one_unencrypted_pkcs8_key() {
        let key = KeyMaterial::generate_ec(strongbox_crypto::keys::Curve::P256).unwrap();
        let pk = x509::to_pem("PRIVATE KEY", x509::pkcs8_of(&key).expose());
        let cert = x509::to_pem("CERTIFICATE", b"not-parsed-here");
        let (k, certs) = pem_key_and_certs(&format!("{pk}{cert}")).unwrap();
        assert_eq!(k.unwrap().expose(), x509::pkcs8_of(&key).expose());
        assert_eq!(certs, vec![b"not-parsed-here".to_vec()]);
        assert!(pem_key_and_certs(&format!("{pk}{pk}")).is_err());
        assert!(pem_key_and_certs(&x509::to_pem("EC PRIVATE KEY", b"x")).is_err());
    }

    #[tokio::test]
    async fn policy_patch_on_an_older_version_shows_the_new_policy() {
        use std::sync::Arc;
        let barrier = Arc::new(strongbox_barrier::Barrier::new(Arc::new(strongbox_storage::MemoryStorage::new())));
        let kek = strongbox_crypto::random_key().unwrap();
        barrier.initialize(&kek).await.unwrap();
        barrier.unseal(&kek).await.unwrap();
        let clock = strongbox_types::FakeClock::new(1_800_000_000);
        let cfg = crate::CoreConfig {
            dns_suffix: "vault.localhost".into(),
            public_port: 8443,
            authority_host: "localhost".into(),
            token_lifetime: 3600,
        };
        let c = Core::open(barrier, Arc::new(clock.clone()), cfg).await.unwrap();
        c.bootstrap("default").await.unwrap();
        let create = |subject: &str| CreateCertificate {
            policy: Some(PolicyInput {
                subject: Some(subject.into()),
                issuer: Some("Self".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        c.create_certificate("default", "c", create("CN=one")).await.unwrap();
        let first = c.get_certificate("default", "c", None).await.unwrap().version;
        clock.advance(5);
        c.create_certificate("default", "c", create("CN=two")).await.unwrap();
        let upd = CertUpdate {
            policy: Some(PolicyInput { subject: Some("CN=three".into()), ..Default::default() }),
            ..Default::default()
        };
        let view = c.update_certificate("default", "c", Some(&first), upd).await.unwrap();
        assert_eq!(view.version, first);
        assert_eq!(view.policy.unwrap().subject, "CN=three");
        assert_eq!(c.get_certificate_policy("default", "c").await.unwrap().subject, "CN=three");
    }

    #[test]
    fn key_ops_follow_key_usage() {
        let mut p = policy::from_certificate(
            &x509::inspect(
                &x509::self_signed(
                    &X509Spec { subject: "CN=k".into(), not_before: 0, not_after: 86_400, ..Default::default() },
                    &KeyMaterial::generate_ec(strongbox_crypto::keys::Curve::P256).unwrap(),
                )
                .unwrap(),
            )
            .unwrap(),
            &KeyMaterial::generate_ec(strongbox_crypto::keys::Curve::P256).unwrap(),
            CT_PEM,
        );
        p.key_usage = vec!["digitalSignature".into(), "keyEncipherment".into()];
        assert_eq!(key_ops(&p, KeyKind::Rsa), vec!["sign", "verify", "wrapKey", "unwrapKey", "encrypt", "decrypt"]);
        assert_eq!(key_ops(&p, KeyKind::Ec(strongbox_crypto::keys::Curve::P256)), vec!["sign", "verify"]);
    }
}
