//! `strongbox ad …`: the directory (service principals, their credentials, trusted issuers and
//! the identity policy), modelled on `az ad sp`. Talks to the JSON management API under
//! `/_strongbox/` (deployment administrators only).

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::{Value, json};

use crate::{Conn, connect, members, obj, print, read_json, read_text};

/// Subcommands of `strongbox ad sp` besides `create-for-rbac`.
#[derive(Subcommand)]
pub(crate) enum SpMore {
    /// List service principals.
    List {
        #[command(flatten)]
        c: Conn,
    },
    /// Show one service principal (app id or object id) with its credentials (never secrets).
    Show {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Disable sign-in: no new tokens, and existing tokens are rejected.
    Disable {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Enable sign-in again.
    Enable {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Delete a service principal (its tokens are rejected from then on).
    Delete {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Client secrets and certificates.
    Credential {
        #[command(subcommand)]
        cmd: CredCmd,
    },
    /// Federated credentials (tokens of a trusted external issuer exchanged for ours).
    FederatedCredential {
        #[command(subcommand)]
        cmd: FedCmd,
    },
}

#[derive(Subcommand)]
pub(crate) enum CredCmd {
    /// Create a new client secret (printed once). Without --append the other secrets are removed.
    Reset {
        #[arg(long)]
        id: String,
        /// Keep the existing secrets (rotation without downtime).
        #[arg(long)]
        append: bool,
        #[arg(long)]
        display_name: Option<String>,
        /// Validity in years (default 1).
        #[arg(long, conflicts_with = "end_date")]
        years: Option<u32>,
        /// Expiry as Unix seconds.
        #[arg(long)]
        end_date: Option<i64>,
        #[command(flatten)]
        c: Conn,
    },
    /// List credentials: ids, type, expiry, hint. Never the secret.
    List {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Delete a secret or certificate; tokens it obtained are rejected from then on.
    Delete {
        #[arg(long)]
        id: String,
        #[arg(long)]
        key_id: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Register a certificate (public part, PEM or DER) for client assertions.
    UploadCert {
        #[arg(long)]
        id: String,
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        c: Conn,
    },
}

#[derive(Subcommand)]
pub(crate) enum FedCmd {
    /// Trust tokens of `--issuer` (already a trusted issuer) with this subject and audience.
    Create {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        subject: String,
        /// Repeatable; default `api://AzureADTokenExchange`.
        #[arg(long)]
        audience: Vec<String>,
        #[command(flatten)]
        c: Conn,
    },
    /// List the federated credentials of a service principal.
    List {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        c: Conn,
    },
    /// Delete a federated credential of a service principal (its tokens are no longer exchanged).
    Delete {
        #[arg(long)]
        id: String,
        /// Federated credential id or name.
        #[arg(long)]
        federated_credential_id: String,
        #[command(flatten)]
        c: Conn,
    },
}

/// Subcommands of `strongbox ad` besides `sp`.
#[derive(Subcommand)]
pub(crate) enum AdMore {
    /// External OIDC issuers whose tokens federated credentials may accept.
    TrustedIssuer {
        #[command(subcommand)]
        cmd: IssuerCmd,
    },
    /// Attestation authorities whose tokens secure key release accepts (never sign-in issuers).
    AttestationAuthority {
        #[command(subcommand)]
        cmd: AttestationCmd,
    },
    /// Managed identities (served to workloads by `strongbox agent`; no secret in the app).
    Identity {
        #[command(subcommand)]
        cmd: IdentityCmd,
    },
    /// Users (people): password + TOTP, device-code sign-in (`strongbox login`).
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// The tenant's identity policy (signing-key rotation period, MFA for users).
    Policy {
        #[command(subcommand)]
        cmd: PolicyCmd,
    },
}

#[derive(Subcommand)]
pub(crate) enum IssuerCmd {
    /// Add or replace a trusted issuer with its JWKS (`{"keys": [...]}`): from a file, or
    /// fetched now from the issuer's OIDC discovery document (`--discovery-url`).
    Create {
        #[arg(long)]
        name: String,
        /// The tokens' `iss` claim (default: the discovery document's `issuer`).
        #[arg(long)]
        issuer: Option<String>,
        #[arg(long, required_unless_present = "discovery_url")]
        jwks_file: Option<PathBuf>,
        /// `https://…/.well-known/openid-configuration`; its `jwks_uri` is fetched by this command.
        #[arg(long, conflicts_with = "jwks_file")]
        discovery_url: Option<String>,
        #[command(flatten)]
        u: UserTokenArgs,
        #[command(flatten)]
        c: Conn,
    },
    /// Turn acceptance of the issuer's user tokens on (`--accept-user-tokens` with its settings)
    /// or off (`--no-user-tokens`); the keys stay.
    Update {
        #[arg(long)]
        name: String,
        #[arg(long, conflicts_with_all = ["accept_user_tokens", "audience"])]
        no_user_tokens: bool,
        #[command(flatten)]
        u: UserTokenArgs,
        #[command(flatten)]
        c: Conn,
    },
    /// The object id an `--principal-mapping external` person gets (to assign roles to it).
    PrincipalId {
        #[arg(long)]
        name: String,
        /// The value of the issuer's user claim (e.g. the person's `oid` or email).
        #[arg(long)]
        value: String,
        #[command(flatten)]
        c: Conn,
    },
    /// List the trusted issuers (their keys' ids, discovery URL, user-token settings).
    List {
        #[command(flatten)]
        c: Conn,
    },
    /// Stop trusting an issuer: its federated and user tokens are refused from then on.
    Delete {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        c: Conn,
    },
}

/// Acceptance of a trusted issuer's user tokens on the data plane (a corporate IdP).
#[derive(clap::Args)]
pub(crate) struct UserTokenArgs {
    /// Accept this issuer's user tokens as bearer tokens for the vault.
    #[arg(long, requires = "audience")]
    accept_user_tokens: bool,
    /// An `aud` the IdP puts in tokens for the vault (repeatable), e.g. the vault resource URI.
    #[arg(long, requires = "accept_user_tokens")]
    audience: Vec<String>,
    /// The claim naming the person: email, preferred_username, upn, unique_name, sub or oid.
    #[arg(long, default_value = "email", requires = "accept_user_tokens")]
    user_claim: String,
    /// `user`: the claim value is the UPN of a Strongbox user; `external`: no local user, the
    /// object id is derived from the issuer and the claim value (see `principal-id`).
    #[arg(long, default_value = "user", value_parser = ["user", "external"], requires = "accept_user_tokens")]
    principal_mapping: String,
    /// The claim listing the person's IdP groups (e.g. `groups`, `roles`): an array of strings
    /// or one string. Needs --group-map.
    #[arg(long, requires_all = ["accept_user_tokens", "group_map"])]
    group_claim: Option<String>,
    /// `IDP_VALUE=GROUP` (repeatable): a value of the group claim and the Strongbox group (object
    /// id or display name) whose role assignments it brings. Unmapped values are ignored.
    #[arg(long, requires = "group_claim", value_parser = parse_group_map)]
    group_map: Vec<(String, String)>,
    /// With `--principal-mapping user`: a UPN domain this issuer is authoritative for
    /// (repeatable; required). Only users of these domains can sign in with its tokens, and a
    /// domain can be federated to one issuer only.
    #[arg(long, requires = "accept_user_tokens")]
    domain: Vec<String>,
}

fn parse_group_map(s: &str) -> Result<(String, String), String> {
    match s.rsplit_once('=') {
        Some((k, v)) if !k.is_empty() && !v.trim().is_empty() => Ok((k.to_owned(), v.trim().to_owned())),
        _ => Err("expected IDP_VALUE=GROUP (a Strongbox group id or name)".to_owned()),
    }
}

impl UserTokenArgs {
    fn body(&self) -> Value {
        if !self.accept_user_tokens {
            return Value::Null;
        }
        let mut body = obj([
            ("audiences", json!(self.audience)),
            ("userClaim", json!(self.user_claim)),
            ("principalMapping", json!(self.principal_mapping)),
        ]);
        if !self.domain.is_empty() {
            body.insert("domains".to_owned(), json!(self.domain));
        }
        if let Some(claim) = &self.group_claim {
            body.insert("groupClaim".to_owned(), json!(claim));
            body.insert(
                "groupMap".to_owned(),
                Value::Object(self.group_map.iter().map(|(k, v)| (k.clone(), json!(v))).collect()),
            );
        }
        Value::Object(body)
    }
}

#[derive(Subcommand)]
pub(crate) enum AttestationCmd {
    /// Add or replace an attestation authority: its keys from a JWKS file, or fetched by the
    /// server from `{authority}/.well-known/openid-configuration` (Azure Attestation: `…/certs`).
    Create {
        #[arg(long)]
        name: String,
        /// The tokens' `iss`, e.g. https://myattest.weu.attest.azure.net
        #[arg(long)]
        authority: String,
        #[arg(long)]
        jwks_file: Option<PathBuf>,
        #[command(flatten)]
        c: Conn,
    },
    /// List the attestation authorities that secure key release trusts.
    List {
        #[command(flatten)]
        c: Conn,
    },
    /// Stop trusting an attestation authority for secure key release.
    Delete {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        c: Conn,
    },
}

#[derive(Subcommand)]
pub(crate) enum IdentityCmd {
    /// Register a managed identity; prints its client id and a one-time enrolment code for
    /// `strongbox agent` (valid 24 h).
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        c: Conn,
    },
    /// A new one-time enrolment code (e.g. the agent's host was rebuilt).
    EnrollmentCode {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        c: Conn,
    },
}

#[derive(Subcommand)]
pub(crate) enum UserCmd {
    /// Create a user; prints the TOTP enrolment URI once (add it to an authenticator app).
    Create {
        /// User principal name (e.g. alice@example.org).
        #[arg(long)]
        upn: String,
        #[arg(long)]
        display_name: Option<String>,
        /// The initial password (kept out of the process list: environment or file only).
        #[arg(long, env = "STRONGBOX_USER_PASSWORD", hide_env_values = true, hide = true)]
        password: Option<String>,
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        c: Conn,
    },
    /// Change the display name or password, enable/disable, or re-enrol TOTP.
    Update {
        /// Object id or user principal name.
        #[arg(long)]
        id: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long, env = "STRONGBOX_USER_PASSWORD", hide_env_values = true, hide = true)]
        password: Option<String>,
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[arg(long)]
        account_enabled: Option<bool>,
        /// A new TOTP secret (the URI is printed once); existing sessions are revoked.
        #[arg(long)]
        reset_totp: bool,
        #[command(flatten)]
        c: Conn,
    },
    /// Delete a user (object id or user principal name); its tokens are refused from then on.
    Delete {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        c: Conn,
    },
    /// List the users (never passwords or TOTP secrets).
    List {
        #[command(flatten)]
        c: Conn,
    },
    /// Show one user (object id or user principal name).
    Show {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        c: Conn,
    },
}

fn password_of(password: Option<String>, file: Option<PathBuf>) -> anyhow::Result<Option<String>> {
    match (password, file) {
        (_, Some(f)) => Ok(Some(read_text(&f)?.trim_end_matches(['\r', '\n']).to_owned())),
        (p, None) => Ok(p),
    }
}

#[derive(Subcommand)]
pub(crate) enum PolicyCmd {
    /// Show the tenant's identity policy.
    Show {
        #[command(flatten)]
        c: Conn,
    },
    /// Change the identity policy (the settings not given stay).
    Set {
        /// Seconds between token signing-key rotations (at least 3600).
        #[arg(long)]
        signing_key_rotation_seconds: Option<i64>,
        #[arg(long)]
        mfa_required_for_users: Option<bool>,
        #[command(flatten)]
        c: Conn,
    },
}

const SP: &str = "/_strongbox/serviceprincipals";

async fn call(c: &Conn, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<()> {
    let cl = connect(c, None).await?;
    print(c.output, &cl.call(method, path, body).await?);
    Ok(())
}

pub(crate) async fn run_sp(cmd: SpMore) -> anyhow::Result<()> {
    match cmd {
        SpMore::List { c } => call(&c, "GET", SP, None).await,
        SpMore::Show { id, c } => call(&c, "GET", &format!("{SP}/{id}"), None).await,
        SpMore::Disable { id, c } => {
            call(&c, "PATCH", &format!("{SP}/{id}"), Some(json!({"accountEnabled": false}))).await
        }
        SpMore::Enable { id, c } => {
            call(&c, "PATCH", &format!("{SP}/{id}"), Some(json!({"accountEnabled": true}))).await
        }
        SpMore::Delete { id, c } => call(&c, "DELETE", &format!("{SP}/{id}"), None).await,
        SpMore::Credential { cmd } => match cmd {
            CredCmd::Reset { id, append, display_name, years, end_date, c } => {
                let mut body = obj([("append", json!(append))]);
                if let Some(d) = display_name {
                    body.insert("displayName".to_owned(), json!(d));
                }
                if let Some(y) = years {
                    body.insert("years".to_owned(), json!(y));
                }
                if let Some(e) = end_date {
                    body.insert("endDateTime".to_owned(), json!(e));
                }
                call(&c, "POST", &format!("{SP}/{id}/credentials"), Some(Value::Object(body))).await
            }
            CredCmd::List { id, c } => call(&c, "GET", &format!("{SP}/{id}/credentials"), None).await,
            CredCmd::Delete { id, key_id, c } => {
                call(&c, "DELETE", &format!("{SP}/{id}/credentials/{key_id}"), None).await
            }
            CredCmd::UploadCert { id, cert, display_name, c } => {
                let pem = read_text(&cert)?;
                let mut body = obj([("certificate", json!(pem))]);
                if let Some(d) = display_name {
                    body.insert("displayName".to_owned(), json!(d));
                }
                call(&c, "POST", &format!("{SP}/{id}/certificates"), Some(Value::Object(body))).await
            }
        },
        SpMore::FederatedCredential { cmd } => match cmd {
            FedCmd::Create { id, name, issuer, subject, audience, c } => {
                let body = json!({ "name": name, "issuer": issuer, "subject": subject, "audiences": audience });
                call(&c, "POST", &format!("{SP}/{id}/federatedcredentials"), Some(body)).await
            }
            FedCmd::List { id, c } => call(&c, "GET", &format!("{SP}/{id}/federatedcredentials"), None).await,
            FedCmd::Delete { id, federated_credential_id, c } => {
                call(&c, "DELETE", &format!("{SP}/{id}/federatedcredentials/{federated_credential_id}"), None).await
            }
        },
    }
}

pub(crate) async fn run_more(cmd: AdMore) -> anyhow::Result<()> {
    match cmd {
        AdMore::TrustedIssuer { cmd } => match cmd {
            IssuerCmd::Create { name, issuer, jwks_file, discovery_url, u, c } => {
                let (issuer, jwks) = match (jwks_file, &discovery_url) {
                    (Some(f), _) => (issuer.ok_or_else(|| anyhow::anyhow!("give --issuer"))?, read_json(&f)?),
                    (None, Some(url)) => fetch_jwks(url, issuer).await?,
                    (None, None) => anyhow::bail!("give --jwks-file or --discovery-url"),
                };
                let mut body = obj([("issuer", json!(issuer)), ("jwks", jwks), ("discoveryUrl", json!(discovery_url))]);
                if u.accept_user_tokens {
                    body.insert("userTokens".to_owned(), u.body());
                }
                call(&c, "PUT", &format!("/_strongbox/trustedissuers/{name}"), Some(Value::Object(body))).await
            }
            IssuerCmd::Update { name, no_user_tokens, u, c } => {
                if !no_user_tokens && !u.accept_user_tokens {
                    anyhow::bail!("give --accept-user-tokens (with --audience) or --no-user-tokens");
                }
                let body = json!({ "userTokens": u.body() });
                call(&c, "PATCH", &format!("/_strongbox/trustedissuers/{name}"), Some(body)).await
            }
            IssuerCmd::PrincipalId { name, value, c } => {
                let body = json!({ "value": value });
                call(&c, "POST", &format!("/_strongbox/trustedissuers/{name}/principalid"), Some(body)).await
            }
            IssuerCmd::List { c } => call(&c, "GET", "/_strongbox/trustedissuers", None).await,
            IssuerCmd::Delete { name, c } => {
                call(&c, "DELETE", &format!("/_strongbox/trustedissuers/{name}"), None).await
            }
        },
        AdMore::AttestationAuthority { cmd } => match cmd {
            AttestationCmd::Create { name, authority, jwks_file, c } => {
                let mut body = obj([("authority", json!(authority))]);
                if let Some(f) = jwks_file {
                    body.insert("jwks".to_owned(), read_json(&f)?);
                }
                call(&c, "PUT", &format!("/_strongbox/attestationauthorities/{name}"), Some(Value::Object(body))).await
            }
            AttestationCmd::List { c } => call(&c, "GET", "/_strongbox/attestationauthorities", None).await,
            AttestationCmd::Delete { name, c } => {
                call(&c, "DELETE", &format!("/_strongbox/attestationauthorities/{name}"), None).await
            }
        },
        AdMore::Identity { cmd } => match cmd {
            IdentityCmd::Create { name, c } => {
                call(&c, "POST", "/_strongbox/managedidentities", Some(json!({ "displayName": name }))).await
            }
            IdentityCmd::EnrollmentCode { id, c } => {
                call(&c, "POST", &format!("/_strongbox/managedidentities/{id}/enrollmentcode"), Some(json!({}))).await
            }
        },
        AdMore::User { cmd } => match cmd {
            UserCmd::Create { upn, display_name, password, password_file, c } => {
                let pw = password_of(password, password_file)?
                    .ok_or_else(|| anyhow::anyhow!("give --password-file or STRONGBOX_USER_PASSWORD"))?;
                let mut body = obj([("userPrincipalName", json!(upn)), ("password", json!(pw))]);
                if let Some(d) = display_name {
                    body.insert("displayName".to_owned(), json!(d));
                }
                call(&c, "POST", "/_strongbox/users", Some(Value::Object(body))).await
            }
            UserCmd::Update { id, display_name, password, password_file, account_enabled, reset_totp, c } => {
                let mut body = obj([("resetTotp", json!(reset_totp))]);
                if let Some(d) = display_name {
                    body.insert("displayName".to_owned(), json!(d));
                }
                if let Some(p) = password_of(password, password_file)? {
                    body.insert("password".to_owned(), json!(p));
                }
                if let Some(e) = account_enabled {
                    body.insert("accountEnabled".to_owned(), json!(e));
                }
                call(&c, "PATCH", &format!("/_strongbox/users/{id}"), Some(Value::Object(body))).await
            }
            UserCmd::Delete { id, c } => call(&c, "DELETE", &format!("/_strongbox/users/{id}"), None).await,
            UserCmd::List { c } => call(&c, "GET", "/_strongbox/users", None).await,
            UserCmd::Show { id, c } => call(&c, "GET", &format!("/_strongbox/users/{id}"), None).await,
        },
        AdMore::Policy { cmd } => match cmd {
            PolicyCmd::Show { c } => call(&c, "GET", "/_strongbox/identitypolicy", None).await,
            PolicyCmd::Set { signing_key_rotation_seconds, mfa_required_for_users, c } => {
                let cl = connect(&c, None).await?;
                let mut p = cl.call("GET", "/_strongbox/identitypolicy", None).await?;
                if let Some(s) = signing_key_rotation_seconds {
                    members(&mut p, "the identity policy")?.insert("signingKeyRotationSeconds".to_owned(), json!(s));
                }
                if let Some(m) = mfa_required_for_users {
                    members(&mut p, "the identity policy")?.insert("mfaRequiredForUsers".to_owned(), json!(m));
                }
                print(c.output, &cl.call("PUT", "/_strongbox/identitypolicy", Some(p)).await?);
                Ok(())
            }
        },
    }
}

/// Reads an OIDC discovery document and the JWKS it points to (system trust store, plus
/// `STRONGBOX_CA_FILE` if set). The document's `issuer` must match `--issuer` when both are given.
async fn fetch_jwks(url: &str, issuer: Option<String>) -> anyhow::Result<(String, Value)> {
    if !url.starts_with("https://") {
        anyhow::bail!("the discovery URL must be https");
    }
    let mut b = reqwest::Client::builder();
    if let Ok(f) = std::env::var("STRONGBOX_CA_FILE") {
        let pem = std::fs::read(&f).map_err(|e| anyhow::anyhow!("cannot read {f}: {e}"))?;
        b = b.tls_certs_merge([reqwest::Certificate::from_pem(&pem)?]);
    }
    let http = b.build()?;
    let doc: Value = http.get(url).send().await?.error_for_status()?.json().await?;
    let doc_issuer = doc.get("issuer").and_then(Value::as_str).unwrap_or_default().to_owned();
    let issuer = match issuer {
        Some(i) if i != doc_issuer => anyhow::bail!("the discovery document names issuer '{doc_issuer}', not '{i}'"),
        Some(i) => i,
        None if doc_issuer.is_empty() => anyhow::bail!("the discovery document has no issuer"),
        None => doc_issuer,
    };
    let jwks_uri = doc.get("jwks_uri").and_then(Value::as_str).ok_or_else(|| anyhow::anyhow!("no jwks_uri"))?;
    let jwks: Value = http.get(jwks_uri).send().await?.error_for_status()?.json().await?;
    Ok((issuer, jwks))
}
