//! `strongbox agent`: runs beside a workload and gives it tokens of a managed identity, so the
//! workload's code and configuration hold no secret.
//!
//! - First start: makes a P-256 key and a short-lived self-signed certificate, and enrols the
//!   certificate with the one-time code from `strongbox ad identity create` (the private key
//!   never leaves this host; state is kept in `--state-dir`, key file mode 0600).
//! - Tokens: client_credentials with an ES256 client assertion (`x5t#S256`) signed by that key,
//!   cached per resource until five minutes before expiry.
//! - Rotation: every `--rotate-every` seconds a new key and certificate, registered by proving
//!   possession of the current key (an assertion); the server keeps the previous certificate so
//!   tokens already handed out stay valid.
//! - Serves the App Service managed-identity protocol azure-identity's
//!   `ManagedIdentityCredential` speaks: `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R`
//!   with header `X-IDENTITY-HEADER: {IDENTITY_HEADER}` → `{access_token, expires_on (string),
//!   resource, token_type}`. Plain HTTP, loopback only; `IDENTITY_HEADER` is a random per-start
//!   value that keeps other local processes from fetching tokens without it.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use strongbox_server::write_private;
use strongbox_types::{Clock, SecretBytes, SecretString, SystemClock};
use tokio::sync::{Mutex, RwLock};

#[derive(clap::Args)]
pub(crate) struct AgentArgs {
    /// The Strongbox authority (https://host:port), as AZURE_AUTHORITY_HOST.
    #[arg(long, env = "AZURE_AUTHORITY_HOST")]
    authority: String,
    #[arg(long, env = "AZURE_TENANT_ID")]
    tenant: String,
    /// The managed identity's client id.
    #[arg(long, env = "AZURE_CLIENT_ID")]
    client_id: String,
    /// The one-time enrolment code (first start only; prefer the environment variable).
    #[arg(long, env = "STRONGBOX_ENROLLMENT_CODE", hide_env_values = true)]
    enrollment_code: Option<String>,
    /// CA certificate of the server (PEM).
    #[arg(long, env = "STRONGBOX_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Where the agent keeps its key and certificate.
    #[arg(long, default_value = "./strongbox-agent")]
    state_dir: PathBuf,
    /// Loopback address for the managed-identity endpoint (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:42356")]
    listen: SocketAddr,
    /// Seconds between key rotations.
    #[arg(long, default_value_t = 86_400)]
    rotate_every: u64,
    /// Validity of each certificate in seconds (longer than --rotate-every).
    #[arg(long, default_value_t = 7 * 86_400)]
    cert_lifetime: i64,
}

struct Cred {
    key: SecretBytes,
    sha256: [u8; 32],
}

struct Agent {
    http: reqwest::Client,
    authority: String,
    tenant: String,
    client_id: String,
    cred: RwLock<Cred>,
    header: SecretString,
    cache: Mutex<HashMap<String, (SecretString, i64)>>,
    state_dir: PathBuf,
    cert_lifetime: i64,
}

fn new_cred(client_id: &str, lifetime: i64) -> anyhow::Result<(String, Cred)> {
    let now = SystemClock.now();
    let (pem, key) = strongbox_crypto::jwt::generate_client_certificate(
        &format!("strongbox-agent {client_id}"),
        now - 300,
        now.saturating_add(lifetime),
    )?;
    let info = strongbox_crypto::jwt::parse_certificate(pem.as_bytes())?;
    Ok((pem, Cred { key, sha256: info.sha256 }))
}

fn oauth_message(v: &Value) -> String {
    v.get("error_description").and_then(Value::as_str).unwrap_or("unknown error").to_owned()
}

impl Agent {
    fn token_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant)
    }

    fn assertion(&self, cred: &Cred) -> anyhow::Result<String> {
        let now = SystemClock.now();
        let header = json!({"alg": "ES256", "typ": "JWT", "x5t#S256": strongbox_crypto::b64url(&cred.sha256)});
        let claims = json!({
            "aud": self.token_endpoint(),
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        });
        Ok(strongbox_crypto::jwt::sign_es256(&cred.key, &header, &claims)?)
    }

    async fn post_json(&self, op: &str, body: Value) -> anyhow::Result<()> {
        let url = format!("{}/{}/strongbox/agent/{op}", self.authority, self.tenant);
        let r = self.http.post(&url).json(&body).send().await.with_context(|| format!("cannot reach {url}"))?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{op} refused: {}", oauth_message(&v));
        }
        Ok(())
    }

    fn save(&self, pem: &str, cred: &Cred) -> anyhow::Result<()> {
        write_private(&self.state_dir.join("key.der"), cred.key.expose())?;
        write_private(&self.state_dir.join("cert.pem"), pem.as_bytes())?;
        let meta = json!({"authority": self.authority, "tenant": self.tenant, "clientId": self.client_id});
        write_private(&self.state_dir.join("agent.json"), meta.to_string().as_bytes())
    }

    /// A new key, registered by proving possession of the current one.
    async fn rotate(&self) -> anyhow::Result<()> {
        let (pem, next) = new_cred(&self.client_id, self.cert_lifetime)?;
        let assertion = self.assertion(&*self.cred.read().await)?;
        self.post_json("rotate", json!({"clientId": self.client_id, "clientAssertion": assertion, "certificate": pem}))
            .await?;
        self.save(&pem, &next)?;
        *self.cred.write().await = next;
        // hand out only tokens of the current key from now on
        self.cache.lock().await.clear();
        tracing::info!("agent key rotated");
        Ok(())
    }

    async fn token(&self, resource: &str) -> anyhow::Result<(SecretString, i64)> {
        let now = SystemClock.now();
        if let Some((t, exp)) = self.cache.lock().await.get(resource)
            && *exp - now > 300
        {
            return Ok((t.clone(), *exp));
        }
        let assertion = self.assertion(&*self.cred.read().await)?;
        let scope = format!("{}/.default", resource.trim_end_matches('/'));
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("scope", scope.as_str()),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion.as_str()),
        ];
        let r = self.http.post(self.token_endpoint()).form(&form).send().await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("token request refused: {}", oauth_message(&v));
        }
        let token = v.get("access_token").and_then(Value::as_str).context("no access_token")?;
        let exp = now + v.get("expires_in").and_then(Value::as_i64).context("no expires_in")?;
        let token = SecretString::new(token.to_owned());
        self.cache.lock().await.insert(resource.to_owned(), (token.clone(), exp));
        Ok((token, exp))
    }
}

fn mi_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"statusCode": status.as_u16(), "message": message}))).into_response()
}

async fn serve_token(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let presented = headers.get("x-identity-header").map(|v| v.as_bytes()).unwrap_or_default();
    if !strongbox_crypto::jwt::ct_eq(presented, agent.header.expose().as_bytes()) {
        return mi_error(StatusCode::UNAUTHORIZED, "The X-IDENTITY-HEADER header is missing or wrong.");
    }
    let Some(resource) = q.get("resource").filter(|r| r.starts_with("https://")) else {
        return mi_error(StatusCode::BAD_REQUEST, "The 'resource' query parameter (an https URI) is required.");
    };
    match agent.token(resource).await {
        Ok((token, exp)) => axum::Json(json!({
            "access_token": token.expose(),
            "expires_on": exp.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": agent.client_id,
        }))
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "token for the workload failed");
            mi_error(StatusCode::BAD_GATEWAY, "The agent could not obtain a token; see the agent log.")
        }
    }
}

pub(crate) async fn run(a: AgentArgs) -> anyhow::Result<()> {
    if !a.listen.ip().is_loopback() {
        bail!("--listen must be a loopback address: the endpoint is plain HTTP");
    }
    if a.cert_lifetime <= i64::try_from(a.rotate_every).unwrap_or(i64::MAX) {
        bail!("--cert-lifetime must be longer than --rotate-every");
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&a.state_dir)
        .with_context(|| format!("cannot create {}", a.state_dir.display()))?;
    let mut b = reqwest::Client::builder();
    if let Some(ca) = &a.ca_file {
        let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
        b = b.tls_certs_merge([reqwest::Certificate::from_pem(&pem).context("the CA file is not PEM")?]);
    }
    let http = b.build()?;
    let header = SecretString::new(strongbox_crypto::b64url(&strongbox_crypto::random_array::<24>()?));
    let key_path = a.state_dir.join("key.der");
    let enrolled = key_path.exists() && a.state_dir.join("cert.pem").exists();
    let (pem, cred) = if enrolled {
        let key = SecretBytes::new(std::fs::read(&key_path)?);
        let pem = std::fs::read_to_string(a.state_dir.join("cert.pem"))?;
        let info = strongbox_crypto::jwt::parse_certificate(pem.as_bytes())?;
        (pem, Cred { key, sha256: info.sha256 })
    } else {
        new_cred(&a.client_id, a.cert_lifetime)?
    };
    let agent = Arc::new(Agent {
        http,
        authority: a.authority.trim_end_matches('/').to_owned(),
        tenant: a.tenant,
        client_id: a.client_id,
        cred: RwLock::new(cred),
        header,
        cache: Mutex::new(HashMap::new()),
        state_dir: a.state_dir.clone(),
        cert_lifetime: a.cert_lifetime,
    });
    if !enrolled {
        let code = a.enrollment_code.context("first start: give the enrolment code (STRONGBOX_ENROLLMENT_CODE)")?;
        agent
            .post_json("enroll", json!({"clientId": agent.client_id, "enrollmentCode": code, "certificate": pem}))
            .await?;
        agent.save(&pem, &*agent.cred.read().await)?;
        tracing::info!("agent enrolled");
    } else if SystemClock.now() + 3600 > strongbox_crypto::jwt::parse_certificate(pem.as_bytes())?.not_after {
        agent.rotate().await.context("the stored certificate is about to expire and could not be rotated")?;
    }

    let listener = tokio::net::TcpListener::bind(a.listen).await?;
    let addr = listener.local_addr()?;
    let endpoint = format!("http://{addr}/msi/token");
    let env = format!("IDENTITY_ENDPOINT={endpoint}\nIDENTITY_HEADER={}\n", agent.header.expose());
    write_private(&a.state_dir.join("identity.env"), env.as_bytes())?;
    // The header is a credential for the endpoint: it goes only to the 0600 file, never to
    // stdout, which service managers usually keep in a log.
    println!("IDENTITY_ENDPOINT={endpoint}");
    println!(
        "strongbox agent: ready; the workload's environment (IDENTITY_ENDPOINT, IDENTITY_HEADER) is in {}",
        a.state_dir.join("identity.env").display()
    );
    std::io::stdout().flush()?;

    let rotator = agent.clone();
    let every = std::time::Duration::from_secs(a.rotate_every.max(1));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = rotator.rotate().await {
                tracing::warn!(error = %e, "agent key rotation failed; retrying next period");
            }
        }
    });
    let app = axum::Router::new().fallback(axum::routing::get(serve_token)).with_state(agent);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = axum::serve(listener, app) => r?,
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}
