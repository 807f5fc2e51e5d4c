//! The operator's keyring API: `GET /_strongbox/sys/keyring` (terms, active term, its usage; no key
//! material) and `POST /_strongbox/sys/keyring/rotate` (a new term for new writes). Deployment
//! administrators only (`vaults/write` at `/` to rotate, `vaults/read` at `/` to read).

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use strongbox_types::Result;

use crate::context::{RequestContext, json as reply};

type Reply = Result<Response>;

fn status_json(st: &strongbox_core::KeyringStatus) -> serde_json::Value {
    json!({
        "activeTerm": st.active,
        "terms": st.terms.iter().map(|(t, born)| json!({ "term": t, "installed": born })).collect::<Vec<_>>(),
        "encryptions": st.encryptions,
        "rotateAfterEncryptions": strongbox_core::ROTATE_AFTER_ENCRYPTIONS,
        "rotateAfterSeconds": strongbox_core::ROTATE_AFTER_SECONDS,
    })
}

/// `GET /_strongbox/sys/keyring`
pub(crate) async fn keyring_status(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    Ok(reply(StatusCode::OK, &status_json(&ctx.app.core.keyring_status().await?)))
}

/// `POST /_strongbox/sys/keyring/rotate`
pub(crate) async fn rotate_keyring(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let term = core.rotate_keyring().await?;
    tracing::info!(target: "strongbox::security", term, actor = %ctx.caller.object_id, "keyring rotated by an operator");
    Ok(reply(StatusCode::OK, &status_json(&core.keyring_status().await?)))
}
