//! A real server for tests: HTTPS on an ephemeral loopback port, a temporary data folder, the
//! bootstrap administrator's credentials, and an HTTP client that trusts the server's CA and
//! resolves every `*.localhost` name to loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::Value;
use strongbox_server::{BootstrapFile, Running, ServerConfig};
use strongbox_types::{Clock, FakeClock};

pub use strongbox_server;

pub struct TestServer {
    pub running: Running,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub boot: BootstrapFile,
    pub http: reqwest::Client,
    pub clock: Option<FakeClock>,
}

/// Every `*.localhost` name (and `localhost`) is 127.0.0.1 (RFC 6761).
struct LoopbackResolver;

impl Resolve for LoopbackResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if host == "localhost" || host.ends_with(".localhost") {
                let addrs: Addrs = Box::new(std::iter::once(SocketAddr::from(([127, 0, 0, 1], 0))));
                Ok(addrs)
            } else {
                Err(format!("test resolver only knows *.localhost, not {host}").into())
            }
        })
    }
}

/// A client that trusts `ca_pem` and resolves `*.localhost` to loopback.
pub fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .dns_resolver(Arc::new(LoopbackResolver))
        .build()
        .unwrap()
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A server whose clock only moves when the test says so.
    pub async fn start_with_fake_clock(start: i64) -> Self {
        Self::start_with(Some(FakeClock::new(start))).await
    }

    async fn start_with(clock: Option<FakeClock>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, clock).await
    }

    /// A server whose `-HSM` keys live in the PKCS#11 token named by `STRONGBOX_PKCS11_MODULE`,
    /// `STRONGBOX_PKCS11_TOKEN` and `STRONGBOX_PKCS11_PIN` (`scripts/test.sh` sets up SoftHSM2).
    /// `None` when no token is configured; with `STRONGBOX_REQUIRE_SOFTHSM=1` that panics instead.
    pub async fn start_with_hsm() -> Option<Self> {
        let Some(p11) = strongbox_server::Pkcs11Config::from_env().unwrap() else {
            assert!(
                std::env::var("STRONGBOX_REQUIRE_SOFTHSM").as_deref() != Ok("1"),
                "STRONGBOX_REQUIRE_SOFTHSM=1 but no PKCS#11 token is configured (STRONGBOX_PKCS11_MODULE)"
            );
            return None;
        };
        Some(Self::start_inner(tempfile::tempdir().unwrap(), None, Some(p11)).await)
    }

    /// [`TestServer::start_with_hsm`] with PKCS#11 key operations on the blocking pool
    /// (`--pkcs11-offload`, as for a network HSM).
    pub async fn start_with_hsm_offload() -> Option<Self> {
        let mut p11 = strongbox_server::Pkcs11Config::from_env().unwrap()?;
        p11.offload = true;
        Some(Self::start_inner(tempfile::tempdir().unwrap(), None, Some(p11)).await)
    }

    /// Starts (or restarts) a server on an existing data folder.
    pub async fn start_in(dir: tempfile::TempDir, clock: Option<FakeClock>) -> Self {
        Self::start_inner(dir, clock, None).await
    }

    async fn start_inner(
        dir: tempfile::TempDir,
        clock: Option<FakeClock>,
        pkcs11: Option<strongbox_server::Pkcs11Config>,
    ) -> Self {
        let mut cfg = ServerConfig::new(dir.path().join("data"));
        cfg.pkcs11 = pkcs11;
        cfg.listen = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
        if let Some(c) = &clock {
            cfg.clock = Arc::new(c.clone()) as Arc<dyn Clock>;
        }
        let running = strongbox_server::start(cfg).await.unwrap();
        let port = running.addrs.first().unwrap().port();
        let http = https_client(&running.ca_pem);
        let boot = running.bootstrap.clone();
        Self { running, dir, port, boot, http, clock }
    }

    /// A server whose configuration the test adjusts before start (optionally on a fake clock).
    pub async fn start_configured(clock: Option<FakeClock>, edit: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = ServerConfig::new(dir.path().join("data"));
        cfg.listen = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
        if let Some(c) = &clock {
            cfg.clock = Arc::new(c.clone()) as Arc<dyn Clock>;
        }
        edit(&mut cfg);
        let running = strongbox_server::start(cfg).await.unwrap();
        let port = running.addrs.first().unwrap().port();
        let http = https_client(&running.ca_pem);
        let boot = running.bootstrap.clone();
        Self { running, dir, port, boot, http, clock }
    }

    /// Stops the server and hands back its data folder (for restart tests).
    pub async fn stop(self) -> tempfile::TempDir {
        self.running.shutdown();
        self.running.wait().await;
        self.dir
    }

    pub fn vault_url(&self, vault: &str) -> String {
        format!("https://{vault}.vault.localhost:{}", self.port)
    }

    pub fn resource(&self) -> String {
        format!("https://vault.localhost:{}", self.port)
    }

    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.boot.authority, self.boot.tenant_id)
    }

    /// A token for the bootstrap administrator.
    pub async fn admin_token(&self) -> String {
        self.token_for(&self.boot.client_id, self.boot.client_secret.expose()).await
    }

    pub async fn token_for(&self, client_id: &str, secret: &str) -> String {
        let scope = format!("{}/.default", self.resource());
        let r = self
            .http
            .post(self.token_url())
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", &scope),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "token request failed");
        let v: Value = r.json().await.unwrap();
        v.get("access_token").and_then(Value::as_str).unwrap().to_owned()
    }
}
