//! Just-in-time elevation (Privileged Identity Management): an *eligible* assignment lets a
//! principal (or the members of a group) activate a role at a scope for a limited time, with a
//! justification, MFA and approval when the eligibility demands them.
//!
//! An activation is an ordinary role assignment carrying an end time. The decision compares
//! that end time with the injected clock on every request, so expiry needs no background job;
//! the record itself is removed (and the expiry recorded as a security event) by
//! [`Access::pim_sweep`], which runs on every PIM call. Every request, approval, denial,
//! activation, expiry and revocation is recorded with [`Access::security_event`].
//!
//! Storage: PIM_ELIGIBLE `{id}`, PIM_REQUESTS `{request id}`.

use serde::{Deserialize, Serialize};
use strongbox_barrier::{BTxn, Change};
use strongbox_types::{Error, ErrorKind, Result};

use super::Access;
use super::names::{check_guid, check_scope};
use crate::{Principal, SecurityEvent};

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

fn changed_concurrently() -> Error {
    Error::new(ErrorKind::Conflict, "The request changed concurrently; retry.")
}

/// The time-bound assignment a request's new status ends, if any.
fn ended_assignment(r: &ActivationRequest) -> Option<&str> {
    match r.status {
        RequestStatus::Revoked | RequestStatus::Expired => r.assignment_id.as_deref(),
        _ => None,
    }
}

impl Access {
    fn is_or_member(&self, p: &Principal, who: &str) -> bool {
        p.object_id.eq_ignore_ascii_case(who) || self.groups_of(&p.object_id).iter().any(|g| g == who)
    }

    // ---- eligibility (managed by administrators) ----

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
        let views = &self.store.pim_eligible;
        let txn = self.pin_role(views.put(BTxn::new(), &rec.id, &rec)?, &rec.role_id, &rec.scope).await?;
        views.commit(txn).await?;
        Ok(rec)
    }

    pub async fn list_eligible_assignments(&self) -> Result<Vec<EligibleAssignment>> {
        let rows = self.store.pim_eligible.scan_all::<EligibleAssignment>("").await?;
        Ok(rows.into_iter().map(|(_, e)| e).collect())
    }

    pub async fn delete_eligible_assignment(&self, id: &str) -> Result<EligibleAssignment> {
        let views = &self.store.pim_eligible;
        let id = id.to_ascii_lowercase();
        let e: EligibleAssignment = views
            .get(&id)
            .await?
            .ok_or_else(|| Error::new(ErrorKind::NotFound, "The eligible assignment was not found."))?;
        views.commit(views.delete(BTxn::new(), &id)).await?;
        Ok(e)
    }

    // ---- activation ----

    async fn event(&self, kind: &str, outcome: &str, actor: &str, r: &ActivationRequest) {
        let detail = format!("role={} scope={} duration={}s", r.role_id, r.scope, r.duration);
        self.log.record(SecurityEvent::new(kind, outcome, actor, &r.id, &detail)).await;
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
        let views = &self.store.pim_requests;
        views.commit(views.put(views.absent(BTxn::new(), &req.id), &req.id, &req)?).await?;
        self.event("role.activation.request", "success", &p.object_id, &req).await;
        if !eligible.approval_required {
            req = self.activate(&req.id, None).await?;
        }
        Ok(req)
    }

    /// Turns a request into a time-bound assignment starting now.
    async fn activate(&self, id: &str, approver: Option<&str>) -> Result<ActivationRequest> {
        // claim the request first, so two approvers cannot both activate it
        let r = self
            .store
            .pim_requests
            .update(id, changed_concurrently, |r: Option<ActivationRequest>| {
                let mut r = r.ok_or_else(not_found)?;
                if r.status != RequestStatus::PendingApproval {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!("The request is {:?}, not pending.", r.status),
                    ));
                }
                let now = self.now();
                r.status = RequestStatus::Active;
                r.activated = Some(now);
                r.expires = Some(now + r.duration);
                r.assignment_id = Some(uuid::Uuid::new_v4().to_string());
                if let Some(a) = approver {
                    r.decided_by = Some(a.to_owned());
                    r.decided = Some(now);
                }
                Ok(Change::Put(r.clone(), r))
            })
            .await?;
        let assignment = r.assignment_id.as_deref().unwrap_or_default();
        self.create_assignment_rec(assignment, &r.principal_id, &r.role_id, &r.scope, r.expires, Some(r.id.clone()))
            .await?;
        self.event("role.activate", "success", approver.unwrap_or(&r.principal_id), &r).await;
        Ok(r)
    }

    /// Rewrites a request with compare-and-set; ending an active request (revoked, expired)
    /// deletes its time-bound assignment in the same transaction.
    async fn update_request(
        &self,
        id: &str,
        f: impl Fn(&mut ActivationRequest) -> Result<()>,
    ) -> Result<ActivationRequest> {
        let store = &self.store;
        let (id, f) = (&id.to_ascii_lowercase(), &f);
        let r = store
            .barrier()
            .transact(changed_concurrently, || async move {
                let views = &store.pim_requests;
                let (mut r, stamp) = views.get_versioned::<ActivationRequest>(id).await?.ok_or_else(not_found)?;
                f(&mut r)?;
                let mut txn = views.put(views.unchanged(BTxn::new(), id, &stamp), id, &r)?;
                if let Some(a) = ended_assignment(&r) {
                    txn = store.bump(store.role_assignments.delete(txn, a))?;
                }
                Ok((txn, r))
            })
            .await?;
        if let Some(a) = ended_assignment(&r) {
            self.index.update(|i| i.remove(a));
        }
        Ok(r)
    }

    async fn approver_check(&self, p: &Principal, id: &str) -> Result<ActivationRequest> {
        let store = &self.store;
        let r: ActivationRequest = store.pim_requests.get(&id.to_ascii_lowercase()).await?.ok_or_else(not_found)?;
        let e: Option<EligibleAssignment> = store.pim_eligible.get(&r.eligible_id).await?;
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
            self.store.pim_requests.get(&id.to_ascii_lowercase()).await?.ok_or_else(not_found)?;
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
        let rows = self.store.pim_requests.scan_all::<ActivationRequest>("").await?;
        let mut out: Vec<ActivationRequest> = rows.into_iter().map(|(_, r)| r).collect();
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
}
