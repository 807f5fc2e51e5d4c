//! `strongbox certificate …` (modelled on `az keyvault certificate`) and `strongbox ca …` (the
//! built-in private certificate authorities).

use std::path::PathBuf;

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::{Change, InVault, Named, ObjectCmd, Props, Versioned, members, obj, object, print, read_json, write_file};

const KTYS: [&str; 2] = ["RSA", "EC"];
const CURVES: [&str; 3] = ["P-256", "P-384", "P-521"];
const CONTENT_TYPES: [&str; 2] = ["pkcs12", "pem"];

#[derive(Subcommand)]
pub(crate) enum CertCmd {
    /// Create a certificate (or a new version) and wait for its issuance.
    Create {
        #[command(flatten)]
        n: Named,
        #[command(flatten)]
        policy: PolicyArgs,
        #[command(flatten)]
        p: Props,
        /// Create it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// Import a certificate with its private key: a PFX/PKCS#12 file or a PEM file (key, certificate, chain).
    Import {
        #[command(flatten)]
        n: Named,
        #[arg(long)]
        file: PathBuf,
        /// Password of the PFX file (or STRONGBOX_PFX_PASSWORD).
        #[arg(long, env = "STRONGBOX_PFX_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Keep the secret as PEM (default: as the file is).
        #[arg(long, value_parser = CONTENT_TYPES)]
        content_type: Option<String>,
        #[command(flatten)]
        p: Props,
        #[arg(long)]
        disabled: bool,
    },
    /// Change the tags or enabled flag of a version.
    SetAttributes(Change),
    #[command(flatten)]
    Object(ObjectCmd),
    /// Write the certificate (public part) to a file.
    Download {
        #[command(flatten)]
        v: Versioned,
        #[arg(long)]
        file: PathBuf,
        /// PEM (default) or DER.
        #[arg(long, value_parser = ["PEM", "DER"], default_value = "PEM")]
        encoding: String,
    },
    /// The pending operation (issuance in progress, CSR waiting for a merge).
    Pending {
        #[command(subcommand)]
        cmd: PendingCmd,
    },
    /// Complete a pending request with the certificate signed elsewhere (PEM or DER file, chain allowed).
    Merge {
        #[command(flatten)]
        n: Named,
        #[arg(long)]
        file: PathBuf,
    },
    /// Show or update the policy.
    Policy {
        #[command(subcommand)]
        cmd: PolicyCmd,
    },
    /// Certificate contacts of the vault.
    Contact {
        #[command(subcommand)]
        cmd: ContactCmd,
    },
    /// Certificate issuers of the vault.
    Issuer {
        #[command(subcommand)]
        cmd: IssuerCmd,
    },
}

#[derive(Subcommand)]
pub(crate) enum PendingCmd {
    /// Show the pending operation (with its CSR).
    Show {
        #[command(flatten)]
        n: Named,
        /// Also write the CSR (PEM) to this file.
        #[arg(long)]
        csr_file: Option<PathBuf>,
    },
    /// Request cancellation.
    Cancel(Named),
    /// Delete the pending operation.
    Delete(Named),
}

#[derive(Subcommand)]
pub(crate) enum PolicyCmd {
    /// Show the policy of a certificate.
    Show(Named),
    /// Change members of the policy (the rest stay).
    Update {
        #[command(flatten)]
        n: Named,
        #[command(flatten)]
        policy: Box<PolicyArgs>,
    },
}

#[derive(Subcommand)]
pub(crate) enum ContactCmd {
    /// List the certificate contacts of the vault.
    List(InVault),
    /// Add a contact (the others stay).
    Add {
        #[command(flatten)]
        at: InVault,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        phone: Option<String>,
    },
    /// Remove the contact with this email.
    Delete {
        #[command(flatten)]
        at: InVault,
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum IssuerCmd {
    /// Create or replace an issuer (e.g. --provider DigiCert). Issuance through public CAs needs network access Strongbox does not have.
    Create {
        #[command(flatten)]
        n: Named,
        #[command(flatten)]
        i: IssuerArgs,
    },
    /// Change an issuer's provider, credentials, organization or enabled flag (the rest stay).
    Update {
        #[command(flatten)]
        n: Named,
        #[command(flatten)]
        i: IssuerArgs,
    },
    /// Show a certificate issuer (its password is never shown).
    Show(Named),
    /// List the certificate issuers of the vault.
    List(InVault),
    /// Delete a certificate issuer.
    Delete(Named),
}

#[derive(Args)]
pub(crate) struct IssuerArgs {
    #[arg(long)]
    provider: Option<String>,
    #[arg(long)]
    account_id: Option<String>,
    /// Account password (or STRONGBOX_ISSUER_PASSWORD); stored, never shown again.
    #[arg(long, env = "STRONGBOX_ISSUER_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    #[arg(long)]
    organization_id: Option<String>,
    #[arg(long)]
    enabled: Option<bool>,
}

/// Policy members as flags; `--policy-file` gives a whole policy (JSON, Azure's shape) that the
/// flags then change.
#[derive(Args)]
pub(crate) struct PolicyArgs {
    /// A policy in Azure's JSON shape (key_props, x509_props, …).
    #[arg(long)]
    policy_file: Option<PathBuf>,
    /// Subject, e.g. "CN=www.example.com, O=Example".
    #[arg(long)]
    subject: Option<String>,
    /// DNS subject alternative names (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    dns_names: Vec<String>,
    /// Issuer: Self, Unknown (CSR + merge), a built-in CA's name, or an issuer's name.
    #[arg(long)]
    issuer: Option<String>,
    #[arg(long, value_parser = KTYS)]
    kty: Option<String>,
    /// RSA key size.
    #[arg(long)]
    size: Option<u32>,
    #[arg(long, value_parser = CURVES)]
    curve: Option<String>,
    #[arg(long)]
    validity_months: Option<u32>,
    /// Format of the secret: pkcs12 or pem.
    #[arg(long, value_parser = CONTENT_TYPES)]
    content_type: Option<String>,
    /// The private key cannot be downloaded through the secret.
    #[arg(long)]
    not_exportable: bool,
    /// Renewals keep the key.
    #[arg(long)]
    reuse_key: bool,
    /// Renew automatically at this percentage of the lifetime.
    #[arg(long, conflicts_with = "renew_days_before_expiry")]
    renew_at_percentage: Option<u32>,
    /// Renew automatically this many days before expiry.
    #[arg(long)]
    renew_days_before_expiry: Option<u32>,
}

fn content_type(short: &str) -> &'static str {
    if short == "pem" { "application/x-pem-file" } else { "application/x-pkcs12" }
}

impl PolicyArgs {
    fn body(&self) -> anyhow::Result<Value> {
        let mut p = match &self.policy_file {
            Some(f) => read_json(f)?,
            None => json!({}),
        };
        let set = |p: &mut Value, section: &str, key: &str, v: Value| -> anyhow::Result<()> {
            let s = members(p, "the certificate policy")?.entry(section).or_insert(Value::Null);
            if !s.is_object() {
                *s = json!({});
            }
            members(s, section)?.insert(key.to_owned(), v);
            Ok(())
        };
        if let Some(s) = &self.subject {
            set(&mut p, "x509_props", "subject", json!(s))?;
        }
        if !self.dns_names.is_empty() {
            set(&mut p, "x509_props", "sans", json!({ "dns_names": self.dns_names }))?;
        }
        if let Some(m) = self.validity_months {
            set(&mut p, "x509_props", "validity_months", json!(m))?;
        }
        if let Some(i) = &self.issuer {
            set(&mut p, "issuer", "name", json!(i))?;
        }
        if let Some(k) = &self.kty {
            set(&mut p, "key_props", "kty", json!(k))?;
        }
        if let Some(s) = self.size {
            set(&mut p, "key_props", "key_size", json!(s))?;
        }
        if let Some(c) = &self.curve {
            set(&mut p, "key_props", "crv", json!(c))?;
        }
        if self.not_exportable {
            set(&mut p, "key_props", "exportable", json!(false))?;
        }
        if self.reuse_key {
            set(&mut p, "key_props", "reuse_key", json!(true))?;
        }
        if let Some(c) = &self.content_type {
            set(&mut p, "secret_props", "contentType", json!(content_type(c)))?;
        }
        let trigger = match (self.renew_at_percentage, self.renew_days_before_expiry) {
            (Some(pct), _) => Some(json!({ "lifetime_percentage": pct })),
            (None, Some(d)) => Some(json!({ "days_before_expiry": d })),
            _ => None,
        };
        if let Some(t) = trigger {
            members(&mut p, "the certificate policy")?.insert(
                "lifetime_actions".to_owned(),
                json!([{ "trigger": t, "action": { "action_type": "AutoRenew" } }]),
            );
        }
        Ok(p)
    }
}

impl PolicyArgs {
    /// The policy of a new certificate: issuer `Self` unless `--issuer` or the policy file names
    /// one (as `az keyvault certificate get-default-policy`; the API's own default, `Unknown`,
    /// would leave the certificate waiting for a merge).
    fn create_body(&self) -> anyhow::Result<Value> {
        let mut p = self.body()?;
        if p.pointer("/issuer/name").and_then(Value::as_str).is_none_or(|n| n.trim().is_empty()) {
            let issuer = members(&mut p, "the certificate policy")?.entry("issuer").or_insert(Value::Null);
            if !issuer.is_object() {
                *issuer = json!({});
            }
            members(issuer, "issuer")?.insert("name".to_owned(), json!("Self"));
        }
        Ok(p)
    }
}

/// The certificates of a PEM or DER file, as standard base64 DER.
fn certs_of(f: &PathBuf) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Ok(vec![STANDARD.encode(&bytes)]);
    }
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match (line, &mut cur) {
            ("-----BEGIN CERTIFICATE-----", _) => cur = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(b)) => {
                out.push(std::mem::take(b));
                cur = None;
            }
            (l, Some(b)) => b.push_str(l),
            _ => {}
        }
    }
    if out.is_empty() {
        bail!("{} holds no certificate", f.display());
    }
    Ok(out)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = STANDARD.encode(der);
    let lines: Vec<&str> = b.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

pub(crate) async fn run(cmd: CertCmd) -> anyhow::Result<()> {
    match cmd {
        CertCmd::Create { n, policy, p, disabled } => {
            let mut body = p.body(disabled.then_some(false))?;
            body.insert("policy".to_owned(), policy.create_body()?);
            let cl = n.at.client().await?;
            let mut op =
                cl.call("POST", &format!("/certificates/{}/create", n.name), Some(Value::Object(body))).await?;
            // Issuance by Self or a built-in CA completes at once; wait briefly for anything else.
            for _ in 0..10 {
                if op.get("status").and_then(Value::as_str) != Some("inProgress") {
                    break;
                }
                op = cl.call("GET", &format!("/certificates/{}/pending", n.name), None).await?;
                if op.get("csr").is_some() && op.get("status").and_then(Value::as_str) == Some("inProgress") {
                    break;
                }
            }
            match op.get("status").and_then(Value::as_str) {
                Some("completed") => {
                    print(n.at.c.output, &cl.call("GET", &format!("/certificates/{}", n.name), None).await?)
                }
                // issuer Unknown: the CSR is the result (sign it elsewhere, then `certificate merge`)
                Some("inProgress") if op.get("csr").is_some_and(|c| !c.is_null()) => {
                    print(n.at.c.output, &op);
                    eprintln!(
                        "certificate '{}' waits for a merge: sign its CSR (`certificate pending show --csr-file`), then run `certificate merge`",
                        n.name
                    );
                }
                other => {
                    let details = op.get("status_details").and_then(Value::as_str).unwrap_or("");
                    bail!(
                        "certificate '{}' was not issued (status {}){}{details}; see `certificate pending show`",
                        n.name,
                        other.unwrap_or("unknown"),
                        if details.is_empty() { "" } else { ": " }
                    );
                }
            }
            Ok(())
        }
        CertCmd::Import { n, file, password, content_type: ct, p, disabled } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut body = p.body(disabled.then_some(false))?;
            body.insert("value".to_owned(), json!(STANDARD.encode(&bytes)));
            if let Some(pw) = password {
                body.insert("pwd".to_owned(), json!(pw));
            }
            if let Some(c) = ct {
                body.insert("policy".to_owned(), json!({ "secret_props": { "contentType": content_type(&c) } }));
            }
            n.at.show("POST", &format!("/certificates/{}/import", n.name), Some(Value::Object(body))).await
        }
        CertCmd::SetAttributes(change) => change.send("certificates", |_| {}).await,
        CertCmd::Object(cmd) => object("certificates", cmd).await,
        CertCmd::Download { v, file, encoding } => {
            let c = v.n.at.client().await?.call("GET", &v.path("certificates"), None).await?;
            let cer = c.get("cer").and_then(Value::as_str).context("the certificate has no 'cer'")?;
            let der = STANDARD.decode(cer).context("'cer' is not base64")?;
            if encoding == "DER" {
                write_file(&file, der)?
            } else {
                write_file(&file, pem("CERTIFICATE", &der))?
            }
            eprintln!("certificate '{}' written to {}", v.n.name, file.display());
            Ok(())
        }
        CertCmd::Pending { cmd } => match cmd {
            PendingCmd::Show { n, csr_file } => {
                let op = n.at.client().await?.call("GET", &format!("/certificates/{}/pending", n.name), None).await?;
                if let Some(f) = csr_file {
                    let csr = op.get("csr").and_then(Value::as_str).context("the operation has no CSR")?;
                    write_file(&f, pem("CERTIFICATE REQUEST", &STANDARD.decode(csr).context("CSR is not base64")?))?;
                    eprintln!("CSR written to {}", f.display());
                }
                print(n.at.c.output, &op);
                Ok(())
            }
            PendingCmd::Cancel(n) => {
                let body = json!({ "cancellation_requested": true });
                n.at.show("PATCH", &format!("/certificates/{}/pending", n.name), Some(body)).await
            }
            PendingCmd::Delete(n) => n.at.show("DELETE", &format!("/certificates/{}/pending", n.name), None).await,
        },
        CertCmd::Merge { n, file } => {
            let body = json!({ "x5c": certs_of(&file)? });
            n.at.show("POST", &format!("/certificates/{}/pending/merge", n.name), Some(body)).await
        }
        CertCmd::Policy { cmd } => match cmd {
            PolicyCmd::Show(n) => n.at.show("GET", &format!("/certificates/{}/policy", n.name), None).await,
            PolicyCmd::Update { n, policy } => {
                n.at.show("PATCH", &format!("/certificates/{}/policy", n.name), Some(policy.body()?)).await
            }
        },
        CertCmd::Contact { cmd } => contacts(cmd).await,
        CertCmd::Issuer { cmd } => issuers(cmd).await,
    }
}

async fn contacts(cmd: ContactCmd) -> anyhow::Result<()> {
    let current = |v: anyhow::Result<Value>| -> Vec<Value> {
        v.ok().and_then(|c| c.get("contacts").and_then(Value::as_array).cloned()).unwrap_or_default()
    };
    match cmd {
        ContactCmd::List(at) => at.show("GET", "/certificates/contacts", None).await,
        ContactCmd::Add { at, email, name, phone } => {
            let cl = at.client().await?;
            let mut list = current(cl.call("GET", "/certificates/contacts", None).await);
            list.retain(|c| c.get("email").and_then(Value::as_str) != Some(email.as_str()));
            let mut c = obj([("email", json!(email))]);
            if let Some(n) = name {
                c.insert("name".to_owned(), json!(n));
            }
            if let Some(p) = phone {
                c.insert("phone".to_owned(), json!(p));
            }
            list.push(Value::Object(c));
            print(at.c.output, &cl.call("PUT", "/certificates/contacts", Some(json!({ "contacts": list }))).await?);
            Ok(())
        }
        ContactCmd::Delete { at, email } => {
            let cl = at.client().await?;
            let mut list = current(cl.call("GET", "/certificates/contacts", None).await);
            let before = list.len();
            list.retain(|c| c.get("email").and_then(Value::as_str) != Some(email.as_str()));
            if list.len() == before {
                bail!("no contact with email {email}");
            }
            let reply = if list.is_empty() {
                cl.call("DELETE", "/certificates/contacts", None).await?
            } else {
                cl.call("PUT", "/certificates/contacts", Some(json!({ "contacts": list }))).await?
            };
            print(at.c.output, &reply);
            Ok(())
        }
    }
}

impl IssuerArgs {
    fn body(&self) -> Value {
        let mut b = Map::new();
        if let Some(p) = &self.provider {
            b.insert("provider".to_owned(), json!(p));
        }
        if self.account_id.is_some() || self.password.is_some() {
            b.insert("credentials".to_owned(), json!({ "account_id": self.account_id, "pwd": self.password }));
        }
        if let Some(o) = &self.organization_id {
            b.insert("org_details".to_owned(), json!({ "id": o }));
        }
        if let Some(e) = self.enabled {
            b.insert("attributes".to_owned(), json!({ "enabled": e }));
        }
        Value::Object(b)
    }
}

async fn issuers(cmd: IssuerCmd) -> anyhow::Result<()> {
    let path = |n: &Named| format!("/certificates/issuers/{}", n.name);
    match cmd {
        IssuerCmd::Create { n, i } => {
            if i.provider.is_none() {
                bail!("--provider is required");
            }
            n.at.show("PUT", &path(&n), Some(i.body())).await
        }
        IssuerCmd::Update { n, i } => n.at.show("PATCH", &path(&n), Some(i.body())).await,
        IssuerCmd::Show(n) => n.at.show("GET", &path(&n), None).await,
        IssuerCmd::List(at) => at.show_list("/certificates/issuers").await,
        IssuerCmd::Delete(n) => n.at.show("DELETE", &path(&n), None).await,
    }
}

#[derive(Subcommand)]
pub(crate) enum CaCmd {
    /// Create a root CA, or with --parent an intermediate CA signed by another CA of the vault.
    /// Certificates whose policy names the CA as issuer are signed by it.
    Create {
        #[command(flatten)]
        n: Named,
        /// Subject, e.g. "CN=Example Issuing CA, O=Example".
        #[arg(long)]
        subject: String,
        #[arg(long)]
        parent: Option<String>,
        #[arg(long, value_parser = KTYS)]
        kty: Option<String>,
        #[arg(long)]
        size: Option<u32>,
        #[arg(long, value_parser = CURVES)]
        curve: Option<String>,
        /// Validity in months (default 120).
        #[arg(long)]
        validity_months: Option<u32>,
        /// Path length constraint.
        #[arg(long)]
        path_len: Option<u8>,
        /// Generate the CA key in the server's HSM (PKCS#11 token); the token signs everything
        /// the CA issues. RSA, P-256 or P-384.
        #[arg(long)]
        hsm: bool,
        /// Write the CA certificate (PEM) to this file.
        #[arg(long)]
        cert_file: Option<PathBuf>,
    },
    /// List the vault's built-in certificate authorities.
    List(InVault),
    /// Show a built-in certificate authority (its certificate, never its key).
    Show(Named),
}

pub(crate) async fn run_ca(cmd: CaCmd) -> anyhow::Result<()> {
    match cmd {
        CaCmd::Create { n, subject, parent, kty, size, curve, validity_months, path_len, hsm, cert_file } => {
            let body = json!({ "subject": subject, "parent": parent, "kty": kty, "key_size": size, "crv": curve,
                               "validity_months": validity_months, "path_len": path_len, "hsm": hsm });
            let cl = n.at.client().await?;
            let reply = cl.call("PUT", &format!("/_strongbox/certificateauthorities/{}", n.name), Some(body)).await?;
            if let Some(f) = cert_file {
                let cer = reply.get("cer").and_then(Value::as_str).context("the reply has no 'cer'")?;
                write_file(&f, pem("CERTIFICATE", &STANDARD.decode(cer).context("'cer' is not base64")?))?;
                eprintln!("CA certificate written to {}", f.display());
            }
            print(n.at.c.output, &reply);
            Ok(())
        }
        CaCmd::List(at) => at.show("GET", "/_strongbox/certificateauthorities", None).await,
        CaCmd::Show(n) => n.at.show("GET", &format!("/_strongbox/certificateauthorities/{}", n.name), None).await,
    }
}
