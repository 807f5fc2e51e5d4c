//! TLS of the listeners.
//!
//! - The policy is explicit here, not a library default: TLS 1.3 and 1.2 only; ECDHE key
//!   exchange only (X25519, P-256, P-384 and the X25519+ML-KEM-768 hybrid); AEAD suites only
//!   (AES-GCM, ChaCha20-Poly1305). No static-RSA key exchange, no CBC, no TLS 1.0/1.1.
//! - The certificate is either issued at start by the generated local CA (the zero-configuration
//!   default) or the operator's PEM files (`--tls-cert` chain, leaf first, and `--tls-key`).
//!   Operator files are checked at start (readable, parse, key matches, within its validity,
//!   covers `*.{dns suffix}` and the public host names) and re-read when they change or on
//!   SIGHUP; a new pair that fails the same checks is logged and the old one kept.
//! - Optional client-certificate TLS: listeners that require a certificate issued by the
//!   `--tls-client-ca` bundle share the server certificate with the others.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use strongbox_types::{Clock, SystemClock};

use anyhow::{Context, bail};
use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs::{cipher_suite as cs, kx_group};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use strongbox_types::SecretString;

/// How often the operator's certificate files are checked for a change.
pub(crate) const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// The one crypto provider of the listeners: the aws-lc-rs provider narrowed to the policy.
pub fn policy_provider() -> Arc<CryptoProvider> {
    let base = rustls::crypto::aws_lc_rs::default_provider();
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        kx_groups: vec![kx_group::X25519MLKEM768, kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        ..base
    })
}

/// The operator's certificate files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first (intermediates after it are served too).
    pub cert: PathBuf,
    /// PEM private key of the leaf (PKCS#8, PKCS#1 RSA or SEC1 EC; not encrypted).
    pub key: PathBuf,
}

/// Client-certificate TLS: which listeners require a certificate, issued by which CAs.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    /// PEM bundle of the CAs whose certificates are accepted.
    pub ca: PathBuf,
    /// Listener addresses that require a client certificate; empty: every listener does.
    pub listeners: Vec<std::net::SocketAddr>,
}

/// The host names a server certificate must cover: every vault host (`*.{dns_suffix}`) and the
/// authority / public hosts.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub(crate) dns_suffix: String,
    pub(crate) hosts: Vec<String>,
}

/// The certificate served now; swapped on reload.
#[derive(Debug)]
pub(crate) struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertStore {
    pub(crate) fn new(key: Arc<CertifiedKey>) -> Self {
        Self { current: RwLock::new(key) }
    }

    pub(crate) fn get(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// A listener's rustls settings: the policy, the shared certificate, HTTP/2 and HTTP/1.1 by
/// ALPN, and a client-certificate verifier when `client_ca` is given.
pub(crate) fn server_config(
    store: Arc<CertStore>,
    client_ca: Option<&rustls::RootCertStore>,
) -> anyhow::Result<rustls::ServerConfig> {
    let provider = policy_provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("the TLS policy is not consistent")?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(roots) => {
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots.clone()), provider)
                    .build()
                    .context("the client CA bundle cannot verify certificates")?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut c = builder.with_cert_resolver(store);
    c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(c)
}

/// Reads a PEM CA bundle (for client certificates).
pub(crate) fn load_roots(path: &Path) -> anyhow::Result<rustls::RootCertStore> {
    let text = std::fs::read(path).with_context(|| format!("cannot read the client CA file {}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&text) {
        let c = c.map_err(|_| anyhow::anyhow!("the client CA file {} is not valid PEM", path.display()))?;
        roots.add(c).with_context(|| format!("the client CA file {} holds an unusable certificate", path.display()))?;
    }
    if roots.is_empty() {
        bail!("the client CA file {} holds no certificate", path.display());
    }
    Ok(roots)
}

/// A certificate and key in PEM, checked: parses, the key matches the leaf, the leaf is within
/// its validity at `now` and covers `names`. `what` names the source in errors.
pub(crate) fn certified_key(
    chain_pem: &[u8],
    key_pem: &SecretString,
    names: &Names,
    now: i64,
    what: &str,
) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| anyhow::anyhow!("{what}: the certificate file is not valid PEM"))?;
    let Some(leaf) = chain.first() else {
        bail!("{what}: the certificate file holds no certificate");
    };
    let info = strongbox_crypto::certs::inspect(leaf)
        .map_err(|_| anyhow::anyhow!("{what}: the first certificate is not a valid X.509 certificate"))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.expose().as_bytes()).map_err(|_| {
        anyhow::anyhow!("{what}: the key file holds no unencrypted PEM private key (PKCS#8, RSA or EC)")
    })?;
    let ck = CertifiedKey::from_der(chain, key, &policy_provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => anyhow::anyhow!("{what}: the private key does not match the certificate"),
        _ => anyhow::anyhow!("{what}: the private key cannot be used ({e})"),
    })?;
    // the real time, not a clock a dev mode may have moved: clients check against it
    let now_ts = now;
    if info.not_after < now_ts {
        bail!("{what}: the certificate expired at {} ({})", rfc3339(info.not_after), info.subject);
    }
    if info.not_before > now_ts {
        bail!("{what}: the certificate is not valid before {} ({})", rfc3339(info.not_before), info.subject);
    }
    let vault_probe = format!("vault-name.{}", names.dns_suffix);
    if !covers(&info.dns_names, &info.ip_addresses, &vault_probe) {
        bail!(
            "{what}: the certificate does not cover the vault hosts *.{} (--dns-suffix); its names are: {}",
            names.dns_suffix,
            listed(&info)
        );
    }
    for h in &names.hosts {
        if !covers(&info.dns_names, &info.ip_addresses, h) {
            bail!("{what}: the certificate does not cover the host {h}; its names are: {}", listed(&info));
        }
    }
    Ok(Arc::new(ck))
}

fn listed(info: &strongbox_crypto::certs::CertInfo) -> String {
    let all: Vec<&str> = info.dns_names.iter().chain(&info.ip_addresses).map(String::as_str).collect();
    if all.is_empty() { "none".into() } else { all.join(", ") }
}

fn rfc3339(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ts.to_string())
}

/// Whether a certificate's names cover `host`: an exact DNS name, a wildcard for its first
/// label (`*.example.com` covers `a.example.com`, not `example.com` or `a.b.example.com`), or,
/// for an IP address, an IP entry.
pub(crate) fn covers(dns: &[String], ips: &[String], host: &str) -> bool {
    if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return ips.iter().any(|i| i.parse::<IpAddr>().is_ok_and(|x| x == ip));
    }
    let host = host.to_ascii_lowercase();
    dns.iter().any(|n| {
        let n = n.to_ascii_lowercase();
        match n.strip_prefix("*.") {
            Some(rest) => host.split_once('.').is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
            None => n == host,
        }
    })
}

/// Reads and checks the operator's files.
pub(crate) fn load_files(files: &TlsFiles, names: &Names) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = std::fs::read(&files.cert)
        .with_context(|| format!("cannot read the TLS certificate file {} (--tls-cert)", files.cert.display()))?;
    let key = std::fs::read_to_string(&files.key)
        .map(SecretString::new)
        .with_context(|| format!("cannot read the TLS key file {} (--tls-key)", files.key.display()))?;
    let what = format!("TLS certificate {}", files.cert.display());
    certified_key(&chain, &key, names, SystemClock.now(), &what)
}

/// What identifies a version of the files: modification time, size and inode of each.
fn stamp(files: &TlsFiles) -> Option<[(SystemTime, u64, u64); 2]> {
    use std::os::unix::fs::MetadataExt;
    let one = |p: &Path| std::fs::metadata(p).ok().and_then(|m| Some((m.modified().ok()?, m.len(), m.ino())));
    Some([one(&files.cert)?, one(&files.key)?])
}

/// Reloads the operator's files when they change (checked every [`RELOAD_CHECK`]) or on
/// SIGHUP. Runs until aborted. Without operator files, SIGHUP is logged and ignored.
pub(crate) async fn watch(store: Arc<CertStore>, files: Option<TlsFiles>, names: Names) {
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot install the SIGHUP handler: certificate reload on SIGHUP is off");
            None
        }
    };
    let mut last = files.as_ref().and_then(stamp);
    let mut tick = tokio::time::interval(RELOAD_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let signalled = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
        };
        let Some(f) = files.as_ref() else {
            if signalled {
                tracing::info!("SIGHUP: the server certificate is generated by the local CA; nothing to reload");
            }
            continue;
        };
        let now = stamp(f);
        if !signalled && now == last {
            continue;
        }
        last = now;
        match load_files(f, &names) {
            Ok(key) => {
                store.set(key);
                tracing::info!(cert = %f.cert.display(), reason = if signalled { "SIGHUP" } else { "file changed" }, "reloaded the TLS certificate");
            }
            Err(e) => tracing::error!(
                error = %format!("{e:#}"),
                "the new TLS certificate was not loaded; still serving the previous one"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn wildcards_cover_one_label_only() {
        let dns = vec!["*.vault.corp.example".to_owned(), "Vault.Corp.Example".to_owned()];
        let ips = vec!["127.0.0.1".to_owned(), "::1".to_owned()];
        assert!(covers(&dns, &ips, "a.vault.corp.example"));
        assert!(covers(&dns, &ips, "A.VAULT.corp.example"));
        assert!(covers(&dns, &ips, "vault.corp.example"));
        assert!(!covers(&dns, &ips, "a.b.vault.corp.example"));
        assert!(!covers(&dns, &ips, "other.example"));
        assert!(!covers(&dns, &ips, ".vault.corp.example"));
        assert!(covers(&dns, &ips, "127.0.0.1"));
        assert!(covers(&dns, &ips, "[::1]"));
        assert!(!covers(&dns, &ips, "10.0.0.1"));
    }
}
