//! Just-in-time elevation (Privileged Identity Management): an *eligible* assignment lets a
//! principal (or the members of a group) activate a role at a scope for a limited time, with a
//! justification, MFA and approval when the eligibility demands them.
//!
//! An activation is an ordinary role assignment carrying an end time. The decision compares
//! that end time with the injected clock on every request, so expiry needs no background job;
//! the record itself is removed (and the expiry recorded as a security event) by
//! [`Core::pim_sweep`], which runs on every PIM call. Every request, approval, denial,
//! activation, expiry and revocation is recorded with the identity service's security event log.
//!
//! Storage: `rbac/eligible/{id}`, `rbac/pim/{request id}`.

use serde::{Deserialize, Serialize};
use strongbox_barrier::BTxn;
use strongbox_types::{Error, ErrorKind, Result};

use crate::rbac::{bump, check_guid, check_scope, role_id_of, scan_all};
use crate::{CAS_RETRIES, Core, Principal, SecurityEvent, decode, encode};

const ELIGIBLE: &str = "rbac/eligible/";
const REQUEST: &str = "rbac/pim/";
/// Longest activation an eligibility may allow (Azure's limit is 24 hours).
pub const MAX_ACTIVATION_SECS: i64 = 24 * 3600;
const MANAGE: &str = "Microsoft.KeyVault/vaults/roleAssignments/write/action";
const READ_ALL: &str = "Microsoft.KeyVault/vaults/roleAssignments/read/action";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EligibleAssignment {
    pub id: String,
    pub principal_id: String,
    pub role_id: String,
    pub scope: String,
    /// Longest activation, seconds.
    pub max_duration: i64,
    pub justification_required: bool,
    pub mfa_required: bool,
    pub approval_required: bool,
    /// Principals (or groups) who may approve.
    pub approvers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestStatus {
    PendingApproval,
    Active,
    Denied,
    Canceled,
    Revoked,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivationRequest {
    pub id: String,
    pub eligible_id: String,
    pub principal_id: String,
    pub role_id: String,
    pub scope: String,
    /// Requested length, seconds.
    pub duration: i64,
    pub justification: String,
    pub status: RequestStatus,
    pub requested: i64,
    pub decided_by: Option<String>,
    pub decided: Option<i64>,
    pub activated: Option<i64>,
    pub expires: Option<i64>,
    pub ended: Option<i64>,
    /// The time-bound role assignment while active.
    pub assignment_id: Option<String>,
}

fn not_found() -> Error {
    Error::new(ErrorKind::NotFound, "The activation request was not found.")
}

impl Core {
    fn is_or_member(&self, p: &Principal, who: &str) -> bool {
        p.object_id.eq_ignore_ascii_case(who) || self.index_groups_of(&p.object_id).iter().any(|g| g == who)
    }

    // ---- eligibility (managed by administrators) ----

    #[allow(clippy::too_many_arguments)]
    pub async fn put_eligible_assignment(&self, id: &str, e: EligibleAssignment) -> Result<EligibleAssignment> {
        check_guid("eligible assignment id", id)?;
        check_guid("principalId", &e.principal_id)?;
        let role = self.find_role(&e.role_id).await?;
        if !(60..=MAX_ACTIVATION_SECS).contains(&e.max_duration) {
            return Err(Error::bad("The maximum activation duration must be between 1 minute and 24 hours."));
        }
        for a in &e.approvers {
            check_guid("approver", a)?;
        }
        if e.approval_required && e.approvers.is_empty() {
            return Err(Error::bad("Approval is required but no approver is named."));
        }
        let rec = EligibleAssignment {
            id: id.to_ascii_lowercase(),
            principal_id: e.principal_id.to_ascii_lowercase(),
            role_id: role.id,
            scope: check_scope(&e.scope)?,
            approvers: e.approvers.iter().map(|a| a.to_ascii_lowercase()).collect(),
            ..e
        };
        let key = format!("{ELIGIBLE}{}", rec.id);
        let txn = self.pin_role(BTxn::new().put(&key, encode(&rec)?), &rec.role_id, &rec.scope).await?;
        self.barrier.commit(txn).await?;
        Ok(rec)
    }

    pub async fn list_eligible_assignments(&self) -> Result<Vec<EligibleAssignment>> {
        scan_all(&self.barrier, ELIGIBLE).await?.iter().map(|(k, b)| decode(k, b)).collect()
    }

    pub async fn delete_eligible_assignment(&self, id: &str) -> Result<EligibleAssignment> {
        let key = format!("{ELIGIBLE}{}", id.to_ascii_lowercase());
        let e: EligibleAssignment = self
            .read_json(&key)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "The eligible assignment was not found."))?;
        self.barrier.commit(BTxn::new().delete(&key)).await?;
        Ok(e)
    }

    // ---- activation ----

    async fn event(&self, kind: &str, outcome: &str, actor: &str, r: &ActivationRequest) {
        let detail = format!("role={} scope={} duration={}s", r.role_id, r.scope, r.duration);
        self.identity.security_event(SecurityEvent::new(kind, outcome, actor, &r.id, &detail)).await;
    }

    /// `strongbox role activate`: the caller asks to activate `role` at `scope`.
    pub async fn request_activation(
        &self,
        p: &Principal,
        role: &str,
        scope: &str,
        duration: i64,
        justification: &str,
    ) -> Result<ActivationRequest> {
        self.pim_sweep().await?;
        let role = self.find_role(role).await?;
        let scope = check_scope(scope)?;
        let eligible = self
            .list_eligible_assignments()
            .await?
            .into_iter()
            .filter(|e| {
                e.role_id == role.id
                    && strongbox_authz::covers(&e.scope, &scope)
                    && self.is_or_member(p, &e.principal_id)
            })
            .max_by_key(|e| e.max_duration)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Forbidden,
                    format!(
                        "The caller (oid={}) is not eligible for role '{}' at scope '{scope}'.",
                        p.object_id, role.name
                    ),
                )
            })?;
        let justification = justification.trim();
        let mut req = ActivationRequest {
            id: uuid::Uuid::new_v4().to_string(),
            eligible_id: eligible.id.clone(),
            principal_id: p.object_id.to_ascii_lowercase(),
            role_id: role.id.clone(),
            scope: scope.clone(),
            duration,
            justification: justification.chars().take(500).collect(),
            status: RequestStatus::PendingApproval,
            requested: self.now(),
            decided_by: None,
            decided: None,
            activated: None,
            expires: None,
            ended: None,
            assignment_id: None,
        };
        let refuse = |why: String, code: &str| (Error::new(ErrorKind::Forbidden, why), code.to_owned());
        let check = if duration <= 0 || duration > eligible.max_duration {
            Err((
                Error::bad(format!("The duration must be between 1 and {} seconds.", eligible.max_duration)),
                "duration".into(),
            ))
        } else if eligible.justification_required && justification.is_empty() {
            Err((Error::bad("A justification is required to activate this role."), "justification".into()))
        } else if eligible.mfa_required && !p.amr.iter().any(|m| m == "mfa") {
            Err(refuse(
                "Activating this role requires multi-factor authentication (the token's amr has no 'mfa').".into(),
                "mfa",
            ))
        } else {
            Ok(())
        };
        if let Err((e, code)) = check {
            self.event("role.activation.request", "failure", &p.object_id, &req).await;
            tracing::info!(reason = %code, "activation refused");
            return Err(e);
        }
        let active = self.list_activation_requests_all().await?.into_iter().any(|r| {
            r.principal_id == req.principal_id
                && r.role_id == req.role_id
                && r.scope.eq_ignore_ascii_case(&req.scope)
                && matches!(r.status, RequestStatus::Active | RequestStatus::PendingApproval)
        });
        if active {
            return Err(Error::new(
                ErrorKind::Conflict,
                "An activation of this role at this scope is already active or pending (RoleAssignmentExists).",
            ));
        }
        let key = format!("{REQUEST}{}", req.id);
        self.barrier.commit(BTxn::new().absent(&key).put(&key, encode(&req)?)).await?;
        self.event("role.activation.request", "success", &p.object_id, &req).await;
        if !eligible.approval_required {
            req = self.activate(&req.id, None).await?;
        }
        Ok(req)
    }

    /// Turns a request into a time-bound assignment starting now.
    async fn activate(&self, id: &str, approver: Option<&str>) -> Result<ActivationRequest> {
        let key = format!("{REQUEST}{id}");
        for _ in 0..CAS_RETRIES {
            let (mut r, stamp) = self.read_json_versioned::<ActivationRequest>(&key).await?.ok_or_else(not_found)?;
            if r.status != RequestStatus::PendingApproval {
                return Err(Error::new(ErrorKind::Conflict, format!("The request is {:?}, not pending.", r.status)));
            }
            let now = self.now();
            let assignment = uuid::Uuid::new_v4().to_string();
            r.status = RequestStatus::Active;
            r.activated = Some(now);
            r.expires = Some(now + r.duration);
            r.assignment_id = Some(assignment.clone());
            if let Some(a) = approver {
                r.decided_by = Some(a.to_owned());
                r.decided = Some(now);
            }
            // claim the request first, so two approvers cannot both activate it
            match self.barrier.commit(BTxn::new().unchanged(&key, &stamp).put(&key, encode(&r)?)).await {
                Ok(()) => {}
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
            self.create_assignment_rec(
                &assignment,
                &r.principal_id,
                &r.role_id,
                &r.scope,
                r.expires,
                Some(r.id.clone()),
            )
            .await?;
            self.event("role.activate", "success", approver.unwrap_or(&r.principal_id), &r).await;
            return Ok(r);
        }
        Err(Error::new(ErrorKind::Conflict, "The request changed concurrently; retry."))
    }

    /// Rewrites a request with compare-and-set.
    async fn update_request(
        &self,
        id: &str,
        f: impl Fn(&mut ActivationRequest) -> Result<()>,
    ) -> Result<ActivationRequest> {
        let key = format!("{REQUEST}{}", id.to_ascii_lowercase());
        for _ in 0..CAS_RETRIES {
            let (mut r, stamp) = self.read_json_versioned::<ActivationRequest>(&key).await?.ok_or_else(not_found)?;
            f(&mut r)?;
            let mut txn = BTxn::new().unchanged(&key, &stamp).put(&key, encode(&r)?);
            let ended = matches!(r.status, RequestStatus::Revoked | RequestStatus::Expired);
            if let (true, Some(a)) = (ended, &r.assignment_id) {
                txn = bump(txn.delete(format!("rbac/assign/{a}")))?;
            }
            match self.barrier.commit(txn).await {
                Ok(()) => {
                    if let (true, Some(a)) = (ended, &r.assignment_id) {
                        self.with_index(|i| i.remove(a));
                    }
                    return Ok(r);
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Conflict, "The request changed concurrently; retry."))
    }

    async fn approver_check(&self, p: &Principal, id: &str) -> Result<ActivationRequest> {
        let r: ActivationRequest =
            self.read_json(&format!("{REQUEST}{}", id.to_ascii_lowercase())).await?.ok_or_else(not_found)?;
        let e: Option<EligibleAssignment> = self.read_json(&format!("{ELIGIBLE}{}", r.eligible_id)).await?;
        let approvers = e.map(|e| e.approvers).unwrap_or_default();
        if r.principal_id.eq_ignore_ascii_case(&p.object_id) {
            return Err(Error::new(ErrorKind::Forbidden, "A principal cannot approve its own activation request."));
        }
        if !approvers.iter().any(|a| self.is_or_member(p, a)) {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("The caller (oid={}) is not an approver of this request.", p.object_id),
            ));
        }
        Ok(r)
    }

    pub async fn approve_activation(&self, p: &Principal, id: &str) -> Result<ActivationRequest> {
        self.pim_sweep().await?;
        let r = self.approver_check(p, id).await?;
        self.event("role.activation.approve", "success", &p.object_id, &r).await;
        self.activate(&r.id, Some(&p.object_id)).await
    }

    pub async fn deny_activation(&self, p: &Principal, id: &str) -> Result<ActivationRequest> {
        self.pim_sweep().await?;
        self.approver_check(p, id).await?;
        let now = self.now();
        let actor = p.object_id.clone();
        let r = self
            .update_request(id, |r| {
                if r.status != RequestStatus::PendingApproval {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!("The request is {:?}, not pending.", r.status),
                    ));
                }
                r.status = RequestStatus::Denied;
                r.decided_by = Some(actor.clone());
                r.decided = Some(now);
                Ok(())
            })
            .await?;
        self.event("role.activation.deny", "success", &p.object_id, &r).await;
        Ok(r)
    }

    /// Ends an activation early (or cancels a pending request): the requester, or anyone who
    /// may manage role assignments at the request's scope.
    pub async fn revoke_activation(&self, p: &Principal, id: &str) -> Result<ActivationRequest> {
        self.pim_sweep().await?;
        let r: ActivationRequest =
            self.read_json(&format!("{REQUEST}{}", id.to_ascii_lowercase())).await?.ok_or_else(not_found)?;
        if !r.principal_id.eq_ignore_ascii_case(&p.object_id) {
            self.authorize(p, MANAGE, &r.scope)?;
        }
        let now = self.now();
        let r = self
            .update_request(id, |r| {
                r.status = match r.status {
                    RequestStatus::Active => RequestStatus::Revoked,
                    RequestStatus::PendingApproval => RequestStatus::Canceled,
                    other => {
                        return Err(Error::new(ErrorKind::Conflict, format!("The request is already {other:?}.")));
                    }
                };
                r.ended = Some(now);
                Ok(())
            })
            .await?;
        self.event("role.activation.revoke", "success", &p.object_id, &r).await;
        Ok(r)
    }

    async fn list_activation_requests_all(&self) -> Result<Vec<ActivationRequest>> {
        let mut out: Vec<ActivationRequest> =
            scan_all(&self.barrier, REQUEST).await?.iter().map(|(k, b)| decode(k, b)).collect::<Result<_>>()?;
        out.sort_by_key(|r| r.requested);
        Ok(out)
    }

    /// Requests the caller may see: its own, those it may approve, or all for an administrator.
    pub async fn list_activation_requests(&self, p: &Principal) -> Result<Vec<ActivationRequest>> {
        self.pim_sweep().await?;
        let all = self.authorize(p, READ_ALL, "/").is_ok();
        let eligible = self.list_eligible_assignments().await?;
        let mut out = Vec::new();
        for r in self.list_activation_requests_all().await? {
            let approver = eligible
                .iter()
                .find(|e| e.id == r.eligible_id)
                .is_some_and(|e| e.approvers.iter().any(|a| self.is_or_member(p, a)));
            if all || approver || r.principal_id.eq_ignore_ascii_case(&p.object_id) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Ends activations whose time is up: removes their assignment record and records the
    /// expiry. (Decisions already ignore them from the moment they end.)
    pub async fn pim_sweep(&self) -> Result<usize> {
        let now = self.now();
        let mut n = 0;
        for r in self.list_activation_requests_all().await? {
            if r.status == RequestStatus::Active && r.expires.is_some_and(|e| now >= e) {
                let done = self
                    .update_request(&r.id, |x| {
                        if x.status != RequestStatus::Active {
                            return Err(Error::new(ErrorKind::Conflict, "already ended"));
                        }
                        x.status = RequestStatus::Expired;
                        x.ended = x.expires;
                        Ok(())
                    })
                    .await;
                if let Ok(done) = done {
                    self.event("role.activation.expire", "success", "", &done).await;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Role id of a role given by id or name (for the API layer).
    pub async fn resolve_role_id(&self, role: &str) -> Result<String> {
        Ok(self.find_role(role).await.map(|r| r.id).unwrap_or_else(|_| role_id_of(role)))
    }
}
