//! The Entra-compatible authority endpoints MSAL and azure-identity use (sdk-wire-traces §2, §7):
//! OIDC discovery, JWKS, the token endpoint and instance discovery. No bearer token needed.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use strongbox_core::{OAuthError, TokenRequest};
use strongbox_types::SecretString;

use crate::AppState;
use crate::http::{json, parse_query, percent_decode};

/// Token requests are small forms; anything bigger is refused unread.
const MAX_FORM: usize = 64 * 1024;

pub fn is_authority_path(segs: &[&str]) -> bool {
    matches!(
        segs,
        [_, "v2.0", ".well-known", "openid-configuration"]
            | [_, "oauth2", "v2.0", "token"]
            | [_, "discovery", "v2.0", "keys"]
            | [_, "discovery", "instance"]
    )
}

pub async fn handle(
    st: &AppState,
    method: &Method,
    segs: &[&str],
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let core = &st.core;
    let tenant = segs.first().copied().unwrap_or_default();
    if core.is_sealed().await {
        return oauth_error(&OAuthError {
            status: 503,
            error: "temporarily_unavailable",
            description: "The vault service is sealed.".into(),
        });
    }
    let authority = core.config().authority();
    let our = core.tenant_id().to_owned();
    match segs {
        [_, "discovery", "instance"] => {
            // MSAL only asks when instance discovery is left on; answer for our tenant.
            let host = authority.trim_start_matches("https://").to_owned();
            json(
                StatusCode::OK,
                &serde_json::json!({
                    "tenant_discovery_endpoint": format!("{authority}/{our}/v2.0/.well-known/openid-configuration"),
                    "api-version": "1.1",
                    "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
                }),
            )
        }
        _ if !core.is_our_tenant(tenant) => oauth_error(&OAuthError {
            status: 400,
            error: "invalid_tenant",
            description: format!("AADSTS90002: Tenant '{}' not found.", tenant.chars().take(64).collect::<String>()),
        }),
        [_, "v2.0", ".well-known", "openid-configuration"] if method == Method::GET => json(
            StatusCode::OK,
            &serde_json::json!({
                "issuer": core.issuer(),
                "authorization_endpoint": format!("{authority}/{our}/oauth2/v2.0/authorize"),
                "token_endpoint": format!("{authority}/{our}/oauth2/v2.0/token"),
                "jwks_uri": format!("{authority}/{our}/discovery/v2.0/keys"),
                "response_types_supported": ["code", "id_token", "token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "grant_types_supported": ["client_credentials"],
                "scopes_supported": ["openid"],
                "tenant_region_scope": null,
                "cloud_instance_name": "strongbox",
            }),
        ),
        [_, "discovery", "v2.0", "keys"] if method == Method::GET => {
            json(StatusCode::OK, &serde_json::json!({ "keys": core.jwks() }))
        }
        [_, "oauth2", "v2.0", "token"] if method == Method::POST => {
            let form = match axum::body::to_bytes(body, MAX_FORM).await {
                Ok(b) => parse_query(&String::from_utf8_lossy(&b)),
                Err(_) => {
                    return oauth_error(&OAuthError {
                        status: 400,
                        error: "invalid_request",
                        description: "AADSTS900144: The request body is too large.".into(),
                    });
                }
            };
            let req = token_request(form, headers, query);
            match core.issue_token(tenant, &req).await {
                Ok(grant) => {
                    let mut r = json(
                        StatusCode::OK,
                        &serde_json::json!({
                            "token_type": "Bearer",
                            "expires_in": grant.expires_in,
                            "ext_expires_in": grant.expires_in,
                            "access_token": grant.access_token.expose(),
                        }),
                    );
                    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    r
                }
                Err(e) => oauth_error(&e),
            }
        }
        _ => oauth_error(&OAuthError {
            status: 405,
            error: "invalid_request",
            description: "This method is not supported on this endpoint.".into(),
        }),
    }
}

/// Client credentials come in the form (`client_secret_post`) or in HTTP Basic
/// (`client_secret_basic`, RFC 6749 §2.3.1: each part form-url-encoded).
fn token_request(
    mut form: HashMap<String, String>,
    headers: &HeaderMap,
    _query: &HashMap<String, String>,
) -> TokenRequest {
    let mut client_id = form.remove("client_id");
    let mut client_secret = form.remove("client_secret").map(SecretString::new);
    if let Some((id, secret)) = basic_credentials(headers) {
        client_id.get_or_insert(id);
        client_secret.get_or_insert(secret);
    }
    TokenRequest {
        grant_type: form.remove("grant_type"),
        client_id,
        client_secret,
        scope: form.remove("scope"),
        client_assertion_type: form.remove("client_assertion_type"),
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, SecretString)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = SecretString::new(String::from_utf8(raw).ok()?);
    let (id, secret) = text.expose().split_once(':')?;
    Some((percent_decode(id), SecretString::new(percent_decode(secret))))
}

fn oauth_error(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let code: u32 = e
        .description
        .strip_prefix("AADSTS")
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut r = json(
        status,
        &serde_json::json!({
            "error": e.error,
            "error_description": e.description,
            "error_codes": [code],
        }),
    );
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
