//! Managed identities: workloads that hold no secret of their own. An operator registers one
//! (`strongbox ad identity create`) and receives a one-time enrolment code (24 h) for the
//! `strongbox agent` running beside the workload. The agent makes its own P-256 key and a
//! short-lived self-signed certificate, and enrols it with the code; from then on it obtains
//! tokens with certificate client assertions and rotates its key itself, proving possession of
//! the current key with an assertion. The private key never leaves the agent's host; the server
//! keeps the current and the previous certificate (tokens of the previous one stay valid until
//! the next rotation).

use strongbox_barrier::BTxn;
use strongbox_types::{Error, ErrorKind, Result, SecretString};

use crate::applications::cert_rec;
use crate::error::{Aadsts, OAuthError, internal};
use crate::records::{ClientCertRec, EnrollmentRec, ServicePrincipalRec};
use crate::{Identity, SKEW, SecurityEvent, TokenRequest};

pub(crate) const KIND: &str = "ManagedIdentity";
/// How long an enrolment code is valid.
const ENROLLMENT_TTL: i64 = 24 * 3600;

/// A registered managed identity and its one-time enrolment code (shown once).
pub struct NewManagedIdentity {
    pub client_id: String,
    pub object_id: String,
    pub display_name: String,
    pub tenant: String,
    pub enrollment_code: SecretString,
    pub expires: i64,
}

impl std::fmt::Debug for NewManagedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewManagedIdentity").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

fn new_code(now: i64) -> Result<(EnrollmentRec, SecretString)> {
    let code =
        SecretString::new(format!("sbxe~{}", strongbox_crypto::b64url(&strongbox_crypto::random_array::<24>()?)));
    let rec = EnrollmentRec {
        code_sha256: strongbox_crypto::hex(&strongbox_crypto::sha256(code.expose().as_bytes())),
        expires: now + ENROLLMENT_TTL,
    };
    Ok((rec, code))
}

fn bad_code() -> OAuthError {
    OAuthError::BadEnrollmentCode(Aadsts::new(70000, "The enrollment code is invalid, expired or already used."))
}

/// The agent's certificate as a credential record.
fn agent_cert(certificate_pem: &str, now: i64) -> Result<ClientCertRec, OAuthError> {
    cert_rec(certificate_pem.as_bytes(), now, "strongbox agent")
        .map_err(|e| OAuthError::InvalidRequest(Aadsts::new(50027, e.message)))
}

impl Identity {
    /// What both agent calls check first (our tenant, caller not throttled); the client id.
    fn agent_preamble<'r>(&self, tenant: &str, req: &'r TokenRequest) -> Result<&'r str, OAuthError> {
        if !self.is_our_tenant(tenant) {
            return Err(OAuthError::InvalidRequest(Aadsts::new(90002, "Tenant not found.")));
        }
        self.back_off(req)?;
        Ok(req.client_id.as_deref().unwrap_or_default())
    }

    pub async fn create_managed_identity(&self, display_name: &str) -> Result<NewManagedIdentity> {
        if display_name.is_empty() || display_name.len() > 120 || display_name.chars().any(char::is_control) {
            return Err(Error::bad("The name must be 1-120 printable characters."));
        }
        let now = self.now();
        let (enrollment, code) = new_code(now)?;
        let sp = ServicePrincipalRec {
            client_id: uuid::Uuid::new_v4().to_string(),
            object_id: uuid::Uuid::new_v4().to_string(),
            display_name: display_name.to_owned(),
            enabled: true,
            secrets: Vec::new(),
            certs: Vec::new(),
            federated: Vec::new(),
            created: now,
            kind: KIND.to_owned(),
            enrollment: Some(enrollment.clone()),
            retired: Vec::new(),
            public_client: false,
        };
        let p = &self.store.principals;
        p.commit(p.put(p.absent(BTxn::new(), &sp.client_id), &sp.client_id, &sp)?).await?;
        self.security_event(SecurityEvent::new("managed-identity.create", "success", "", &sp.client_id, "")).await;
        Ok(NewManagedIdentity {
            client_id: sp.client_id,
            object_id: sp.object_id,
            display_name: sp.display_name,
            tenant: self.tenant_id.clone(),
            enrollment_code: code,
            expires: enrollment.expires,
        })
    }

    /// A new enrolment code for an existing managed identity (e.g. the agent's host was
    /// rebuilt). Its current certificates stay until the agent enrols again.
    pub async fn new_enrollment_code(&self, id: &str) -> Result<NewManagedIdentity> {
        let (enrollment, code) = new_code(self.now())?;
        let (sp, ()) = self
            .update_sp(id, |sp, _| {
                if sp.kind != KIND {
                    return Err(Error::bad("This principal is not a managed identity."));
                }
                sp.enrollment = Some(enrollment.clone());
                Ok(())
            })
            .await?;
        self.security_event(SecurityEvent::new("managed-identity.enrollment-code", "success", "", &sp.client_id, ""))
            .await;
        Ok(NewManagedIdentity {
            client_id: sp.client_id,
            object_id: sp.object_id,
            display_name: sp.display_name,
            tenant: self.tenant_id.clone(),
            enrollment_code: code,
            expires: enrollment.expires,
        })
    }

    /// Records an agent call as a security event; a refused credential (401) also counts as a
    /// failed sign-in for the client id and the address.
    async fn record_agent_call(&self, kind: &str, req: &TokenRequest, result: &Result<String, OAuthError>) {
        let client = req.client_id.as_deref().unwrap_or_default();
        let peer = req.peer.map(|p| p.to_string()).unwrap_or_default();
        let (outcome, detail) = match result {
            Ok(_) => ("success", String::new()),
            Err(e) => ("failure", e.event_detail()),
        };
        if result.as_ref().is_err_and(OAuthError::is_wrong_credential) {
            self.note_failure(req);
        }
        self.security_event(SecurityEvent::new(kind, outcome, client, &peer, &detail)).await;
    }

    /// The agent's first contact: the one-time code for its certificate. Refused codes count
    /// as failed sign-ins (throttled per client id and address).
    pub async fn enroll_agent(
        &self,
        tenant: &str,
        req: &TokenRequest,
        code: &SecretString,
        certificate_pem: &str,
    ) -> Result<String, OAuthError> {
        let result = self.enroll_inner(tenant, req, code, certificate_pem).await;
        self.record_agent_call("managed-identity.enroll", req, &result).await;
        result
    }

    async fn enroll_inner(
        &self,
        tenant: &str,
        req: &TokenRequest,
        code: &SecretString,
        certificate_pem: &str,
    ) -> Result<String, OAuthError> {
        let client_id = self.agent_preamble(tenant, req)?;
        if uuid::Uuid::parse_str(client_id).is_err() {
            return Err(bad_code());
        }
        let now = self.now();
        let rec = agent_cert(certificate_pem, now)?;
        let presented = strongbox_crypto::sha256(code.expose().as_bytes());
        let outcome = self
            .update_sp(client_id, |sp, now| {
                let ok = sp.kind == KIND
                    && sp.enrollment.as_ref().is_some_and(|e| {
                        e.expires > now
                            && strongbox_crypto::unhex(&e.code_sha256)
                                .is_some_and(|h| strongbox_crypto::jwt::ct_eq(&h, &presented))
                    });
                if !ok {
                    return Err(Error::new(ErrorKind::Unauthorized, "bad code"));
                }
                sp.enrollment = None;
                sp.certs = vec![rec.clone()];
                Ok(())
            })
            .await;
        match outcome {
            Ok(_) => Ok(rec.id),
            Err(e) if matches!(e.kind, ErrorKind::Unauthorized | ErrorKind::RouteNotFound) => Err(bad_code()),
            Err(e) => Err(internal(e)),
        }
    }

    /// Key rotation by the agent: `assertion` (signed with its current key) proves possession;
    /// the new certificate becomes current, the one used stays as previous, others are dropped.
    pub async fn rotate_agent_certificate(
        &self,
        tenant: &str,
        req: &TokenRequest,
        assertion: &SecretString,
        certificate_pem: &str,
    ) -> Result<String, OAuthError> {
        let result = self.rotate_inner(tenant, req, assertion, certificate_pem).await;
        self.record_agent_call("managed-identity.rotate", req, &result).await;
        result
    }

    async fn rotate_inner(
        &self,
        tenant: &str,
        req: &TokenRequest,
        assertion: &SecretString,
        certificate_pem: &str,
    ) -> Result<String, OAuthError> {
        let client_id = self.agent_preamble(tenant, req)?;
        let unknown =
            || OAuthError::UnauthorizedClient(Aadsts::new(700016, "Application was not found in the directory."));
        let (_, sp, _) = self.find_sp(client_id).await.map_err(|_| unknown())?;
        if sp.kind != KIND || !sp.enabled {
            return Err(unknown());
        }
        let u = strongbox_crypto::jwt::parse(assertion.expose())
            .map_err(|_| OAuthError::InvalidRequest(Aadsts::new(50027, "JWT token is invalid or malformed.")))?;
        let used = self.verify_certificate_assertion(&sp, &u).await?;
        let now = self.now();
        let rec = agent_cert(certificate_pem, now)?;
        // Tokens of a certificate dropped here stay valid until they expire (a rotation is
        // routine, not a revocation); the certificate itself can no longer sign assertions.
        let until = now + self.cfg.token_lifetime + SKEW;
        self.update_sp(client_id, |sp, now| {
            sp.retired.retain(|(_, u)| *u > now);
            for c in sp.certs.iter().filter(|c| c.id != used) {
                sp.retired.push((c.id.clone(), until));
            }
            sp.certs.retain(|c| c.id == used);
            sp.certs.push(rec.clone());
            Ok(())
        })
        .await
        .map_err(internal)?;
        Ok(rec.id)
    }
}
