//! The Entra-compatible authority endpoints MSAL and azure-identity use (sdk-wire-traces §2, §7):
//! OIDC discovery, JWKS, the token endpoint and instance discovery. No bearer token needed.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use strongbox_identity::{Aadsts, OAuthError, TokenRequest};
use strongbox_types::SecretString;

use crate::AppState;
use crate::context::{json, parse_query, percent_decode};

/// Token requests are small forms; anything bigger is refused unread.
pub(crate) const MAX_FORM: usize = 64 * 1024;

pub(crate) fn is_authority_path(segs: &[&str]) -> bool {
    matches!(
        segs,
        [_, "v2.0", ".well-known", "openid-configuration"]
            | [_, "oauth2", "v2.0", "token"]
            | [_, "discovery", "v2.0", "keys"]
            | [_, "discovery", "instance"]
            | [_, "strongbox", "agent", "enroll" | "rotate"]
            | [_, "oauth2", "v2.0", "devicecode" | "deviceauth"]
    )
}

pub(crate) async fn handle(
    st: &AppState,
    method: &Method,
    segs: &[&str],
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
    peer: Option<IpAddr>,
) -> Response {
    let core = &st.core;
    let tenant = segs.first().copied().unwrap_or_default();
    if core.is_sealed().await {
        return oauth_error(&OAuthError::Sealed);
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
        _ if !core.identity.is_our_tenant(tenant) => oauth_error(&OAuthError::UnknownTenant(Aadsts::new(
            90002,
            format!("Tenant '{}' not found.", tenant.chars().take(64).collect::<String>()),
        ))),
        [_, "v2.0", ".well-known", "openid-configuration"] if method == Method::GET => json(
            StatusCode::OK,
            &serde_json::json!({
                "issuer": core.identity.issuer(),
                "authorization_endpoint": format!("{authority}/{our}/oauth2/v2.0/authorize"),
                "token_endpoint": format!("{authority}/{our}/oauth2/v2.0/token"),
                "jwks_uri": format!("{authority}/{our}/discovery/v2.0/keys"),
                "response_types_supported": ["code", "id_token", "token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
                "device_authorization_endpoint": format!("{authority}/{our}/oauth2/v2.0/devicecode"),
                "grant_types_supported": ["client_credentials", "urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
                "scopes_supported": ["openid"],
                "tenant_region_scope": null,
                "cloud_instance_name": "strongbox",
            }),
        ),
        [_, "discovery", "v2.0", "keys"] if method == Method::GET => {
            json(StatusCode::OK, &serde_json::json!({ "keys": core.identity.jwks() }))
        }
        [_, "oauth2", "v2.0", "token"] if method == Method::POST => {
            let form = match axum::body::to_bytes(body, MAX_FORM).await {
                Ok(b) => parse_query(&String::from_utf8_lossy(&b)),
                Err(_) => {
                    return oauth_error(&OAuthError::InvalidRequest(Aadsts::new(
                        900144,
                        "The request body is too large.",
                    )));
                }
            };
            let mut req = token_request(form, headers, query);
            req.peer = peer;
            match core.identity.issue_token(tenant, &req).await {
                Ok(grant) => {
                    let mut body = serde_json::json!({
                        "token_type": "Bearer",
                        "expires_in": grant.expires_in,
                        "ext_expires_in": grant.expires_in,
                        "access_token": grant.access_token.expose(),
                    });
                    if let Some(obj) = body.as_object_mut() {
                        if let Some(id) = &grant.id_token {
                            obj.insert("id_token".into(), serde_json::json!(id));
                        }
                        if let Some(ci) = &grant.client_info {
                            obj.insert("client_info".into(), serde_json::json!(ci));
                        }
                        if let Some(rt) = &grant.refresh_token {
                            obj.insert("refresh_token".into(), serde_json::json!(rt.expose()));
                            obj.insert(
                                "scope".into(),
                                serde_json::json!(format!("{}/.default offline_access", core.config().resource())),
                            );
                        }
                    }
                    let mut r = json(StatusCode::OK, &body);
                    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    r
                }
                Err(e) => oauth_error(&e),
            }
        }
        [_, "strongbox", "agent", op] if method == Method::POST => agent(st, tenant, op, body, peer).await,
        [_, "oauth2", "v2.0", "devicecode"] if method == Method::POST => {
            let form = match axum::body::to_bytes(body, MAX_FORM).await {
                Ok(b) => parse_query(&String::from_utf8_lossy(&b)),
                Err(_) => HashMap::new(),
            };
            let scope = form.get("scope").map(String::as_str);
            match core
                .identity
                .device_authorization(tenant, form.get("client_id").map(String::as_str), scope, peer)
                .await
            {
                Ok(d) => {
                    let mut r = json(
                        StatusCode::OK,
                        &serde_json::json!({
                            "device_code": d.device_code.expose(),
                            "user_code": d.user_code,
                            "verification_uri": d.verification_uri,
                            "expires_in": d.expires_in,
                            "interval": d.interval,
                            "message": format!("To sign in, open {} and enter the code {} to authenticate.", d.verification_uri, d.user_code),
                        }),
                    );
                    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    r
                }
                Err(e) => oauth_error(&e),
            }
        }
        [_, "oauth2", "v2.0", "deviceauth"] if method == Method::GET => {
            // A code in the link (`?user_code=`) is never pre-filled: a phishing link must not
            // spare the victim typing the code the attacker's device shows.
            let (token, fresh) = match cookie_token(headers) {
                Some(t) => (t, false),
                None => match new_token() {
                    Some(t) => (t, true),
                    None => return internal_page(),
                },
            };
            let mut r = device_page(StatusCode::OK, &View::Code, &token, None);
            if fresh {
                set_cookie(&mut r, tenant, &token);
            }
            r
        }
        [_, "oauth2", "v2.0", "deviceauth"] if method == Method::POST => {
            let form = match axum::body::to_bytes(body, MAX_FORM).await {
                Ok(b) => parse_query(&String::from_utf8_lossy(&b)),
                Err(_) => HashMap::new(),
            };
            let f = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
            // CSRF: the form must come from this page (Origin, else Referer, of the authority)
            // and carry the token of the SameSite=Strict cookie the page set (double submit).
            let token = cookie_token(headers);
            let csrf_ok = token.as_deref().is_some_and(|t| {
                !f("csrf").is_empty() && strongbox_crypto::jwt::ct_eq(t.as_bytes(), f("csrf").as_bytes())
            });
            if !same_origin(headers, &authority) || !csrf_ok {
                let Some(t) = token.or_else(new_token) else { return internal_page() };
                let mut r = device_page(
                    StatusCode::FORBIDDEN,
                    &View::Code,
                    &t,
                    Some((false, "This form did not come from this sign-in page. Start again from the sign-in page.")),
                );
                set_cookie(&mut r, tenant, &t);
                return r;
            }
            let token = f("csrf");
            let now = core.now();
            if f("step") == "code" {
                return match core.identity.device_lookup(f("user_code"), peer).await {
                    Ok(d) => device_page(StatusCode::OK, &View::Confirm(&d, now), token, None),
                    Err(e) => device_page(status(e.status), &View::Code, token, Some((false, e.message))),
                };
            }
            let approve = f("action") == "approve";
            // the person confirms having started this sign-in (the page named the application
            // and the requesting address)
            if approve && f("confirm") != "yes" {
                return match core.identity.device_lookup(f("user_code"), peer).await {
                    Ok(d) => device_page(
                        StatusCode::BAD_REQUEST,
                        &View::Confirm(&d, now),
                        token,
                        Some((false, "Confirm that you started this sign-in yourself, or deny it.")),
                    ),
                    Err(e) => device_page(status(e.status), &View::Code, token, Some((false, e.message))),
                };
            }
            let password = SecretString::new(f("password").to_owned());
            let outcome =
                core.identity.device_verify(f("user_code"), f("username"), &password, f("otp"), approve, peer).await;
            match outcome {
                Ok(msg) => device_page(StatusCode::OK, &View::Done, token, Some((true, msg))),
                // wrong credentials: the same request again, with the note
                Err(e) if e.wrong_credentials() => match core.identity.device_lookup(f("user_code"), peer).await {
                    Ok(d) => device_page(StatusCode::OK, &View::Confirm(&d, now), token, Some((false, e.message))),
                    Err(e2) => device_page(status(e2.status), &View::Code, token, Some((false, e.message))),
                },
                Err(e) => device_page(status(e.status), &View::Code, token, Some((false, e.message))),
            }
        }
        _ => oauth_error(&OAuthError::MethodNotAllowed),
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
        client_assertion: form.remove("client_assertion").map(SecretString::new),
        peer: None,
        device_code: form.remove("device_code").map(SecretString::new),
        refresh_token: form.remove("refresh_token").map(SecretString::new),
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

/// Entra's HTTP status and OAuth `error` code of each class of refusal (the one place that
/// decides them).
fn oauth_status(e: &OAuthError) -> (StatusCode, &'static str) {
    match e {
        OAuthError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        OAuthError::UnknownTenant(_) => (StatusCode::BAD_REQUEST, "invalid_tenant"),
        OAuthError::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope"),
        OAuthError::BadClientCredential(_) => (StatusCode::UNAUTHORIZED, "invalid_client"),
        OAuthError::AssertionRejected(_) => (StatusCode::BAD_REQUEST, "invalid_client"),
        OAuthError::UnauthorizedClient(_) => (StatusCode::BAD_REQUEST, "unauthorized_client"),
        OAuthError::UnsupportedGrantType(_) => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        OAuthError::InvalidGrant(_) => (StatusCode::BAD_REQUEST, "invalid_grant"),
        OAuthError::BadEnrollmentCode(_) => (StatusCode::UNAUTHORIZED, "invalid_grant"),
        OAuthError::ExpiredToken(_) => (StatusCode::BAD_REQUEST, "expired_token"),
        OAuthError::AuthorizationPending(_) => (StatusCode::BAD_REQUEST, "authorization_pending"),
        OAuthError::SlowDown(_) => (StatusCode::BAD_REQUEST, "slow_down"),
        OAuthError::AuthorizationDeclined(_) => (StatusCode::BAD_REQUEST, "authorization_declined"),
        OAuthError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable"),
        OAuthError::Unavailable => (StatusCode::INTERNAL_SERVER_ERROR, "temporarily_unavailable"),
        OAuthError::Sealed => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        OAuthError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "invalid_request"),
    }
}

/// The OAuth2 error reply: `error`, `error_description` and `error_codes` (the AADSTS number,
/// `0` when there is none), never cached; `Retry-After` when throttled.
fn oauth_error(e: &OAuthError) -> Response {
    let (status, error) = oauth_status(e);
    let mut r = json(
        status,
        &serde_json::json!({
            "error": error,
            "error_description": e.description(),
            "error_codes": [e.code()],
        }),
    );
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(v) = e.retry_after().and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// `strongbox agent`'s enrolment (one-time code + its certificate) and key rotation (an
/// assertion signed with its current key + the new certificate). JSON bodies; OAuth2 errors.
async fn agent(st: &AppState, tenant: &str, op: &str, body: Body, peer: Option<IpAddr>) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct AgentBody {
        client_id: String,
        certificate: String,
        enrollment_code: Option<String>,
        client_assertion: Option<String>,
    }
    let bad = |d: &str| oauth_error(&OAuthError::InvalidRequest(Aadsts::new(900144, d)));
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM).await else {
        return bad("The request body is too large.");
    };
    let Ok(b) = serde_json::from_slice::<AgentBody>(&bytes) else {
        return bad("The request body must be JSON with clientId and certificate.");
    };
    let req = TokenRequest { client_id: Some(b.client_id), peer, ..Default::default() };
    let core = &st.core;
    let result = match (op, b.enrollment_code, b.client_assertion) {
        ("enroll", Some(code), _) => {
            core.identity.enroll_agent(tenant, &req, &SecretString::new(code), &b.certificate).await
        }
        ("rotate", _, Some(a)) => {
            core.identity.rotate_agent_certificate(tenant, &req, &SecretString::new(a), &b.certificate).await
        }
        ("enroll", None, _) => return bad("The request body must contain 'enrollmentCode'."),
        _ => return bad("The request body must contain 'clientAssertion'."),
    };
    match result {
        Ok(key_id) => json(
            StatusCode::OK,
            &serde_json::json!({ "keyId": key_id, "tokenEndpoint": core.identity.token_endpoint() }),
        ),
        Err(e) => oauth_error(&e),
    }
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// The cookie that carries the verification page's CSRF token.
const CSRF_COOKIE: &str = "sbx_devauth";

fn new_token() -> Option<String> {
    strongbox_crypto::random_array::<32>().ok().map(|b| strongbox_crypto::b64url(&b))
}

/// The page's CSRF token from the request's cookie, if well formed.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(CSRF_COOKIE)?.strip_prefix('='))
        .find(|t| t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .map(str::to_owned)
}

fn set_cookie(r: &mut Response, tenant: &str, token: &str) {
    let path: String = tenant.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let v = format!(
        "{CSRF_COOKIE}={token}; Path=/{path}/oauth2/v2.0/deviceauth; Max-Age=1800; Secure; HttpOnly; SameSite=Strict"
    );
    if let Ok(v) = HeaderValue::from_str(&v) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Whether the POST came from a page of the authority: its `Origin`, else its `Referer` (a
/// browser sends one of them on a form POST; neither, or `null`, is refused).
fn same_origin(headers: &HeaderMap, authority: &str) -> bool {
    let expected = authority.trim_end_matches('/');
    if let Some(o) = headers.get(header::ORIGIN) {
        return o.to_str().is_ok_and(|o| o.eq_ignore_ascii_case(expected));
    }
    match headers.get(header::REFERER).and_then(|r| r.to_str().ok()) {
        Some(r) => {
            let n = expected.len();
            r.get(..n).is_some_and(|p| p.eq_ignore_ascii_case(expected)) && r.as_bytes().get(n) == Some(&b'/')
        }
        None => false,
    }
}

fn status(s: u16) -> StatusCode {
    StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_REQUEST)
}

fn internal_page() -> Response {
    device_page(StatusCode::INTERNAL_SERVER_ERROR, &View::Done, "", Some((false, "Internal error; try again.")))
}

/// The steps of the verification page.
enum View<'a> {
    /// Enter the code shown on the device (never pre-filled).
    Code,
    /// Which application asks, from where; user name, password, TOTP; explicit confirmation.
    Confirm(&'a strongbox_identity::DeviceRequest, i64),
    /// The outcome only.
    Done,
}

fn minutes(secs: i64) -> String {
    let m = secs.max(0) / 60;
    if m == 1 { "1 minute".to_owned() } else { format!("{m} minutes") }
}

/// " 3 minutes ago", or nothing for records from before the time was kept (`created: 0`).
fn requested_ago(now: i64, requested_at: i64) -> String {
    if requested_at <= 0 { String::new() } else { format!(" {} ago", minutes(now - requested_at)) }
}

/// The device-code verification page. No script; the only cookie is the CSRF token
/// (HttpOnly, SameSite=Strict); strict CSP; never cached or framed. Everything shown that
/// comes from a request or a record is HTML-escaped.
fn device_page(status: StatusCode, view: &View<'_>, csrf: &str, outcome: Option<(bool, &str)>) -> Response {
    let note = match outcome {
        Some((true, m)) => format!("<p class=ok>{}</p>", html_escape(m)),
        Some((false, m)) => format!("<p class=err>{}</p>", html_escape(m)),
        None => String::new(),
    };
    let csrf = html_escape(csrf);
    let body = match view {
        View::Code => format!(
            r#"<form method=post autocomplete=off><input type=hidden name=csrf value="{csrf}">
<label>Code shown on your device <input name=user_code required autofocus></label>
<button name=step value=code>Next</button>
</form>"#
        ),
        View::Confirm(d, now) => {
            let from = if d.requester.is_empty() { "an unknown address".to_owned() } else { html_escape(&d.requester) };
            format!(
                r#"<p>The application <b>{app}</b> (application id <code>{id}</code>) asks to sign you in to Strongbox.
It asked for this code from the address <b>{from}</b>{ago}; the code expires in {left}.</p>
<p class=warn>Continue only if you started this sign-in yourself, just now, on a device you control. If someone sent you this code or a link to this page, choose Deny.</p>
<form method=post autocomplete=off><input type=hidden name=csrf value="{csrf}"><input type=hidden name=user_code value="{code}">
<label>User name <input name=username required></label>
<label>Password <input name=password type=password required></label>
<label>Verification code (authenticator app) <input name=otp inputmode=numeric pattern="[0-9]{{6}}"></label>
<label class=check><input type=checkbox name=confirm value=yes> I started this sign-in on my device and I recognise the application</label>
<button name=action value=approve>Sign in and approve</button> <button name=action value=deny>Deny</button>
</form>"#,
                app = html_escape(&d.app_name),
                id = html_escape(&d.client_id),
                ago = requested_ago(*now, d.requested_at),
                left = minutes(d.expires - now),
                code = html_escape(&d.user_code),
            )
        }
        View::Done => String::new(),
    };
    let page = format!(
        r#"<!doctype html><html lang=en><head><meta charset=utf-8><title>Strongbox sign-in</title>
<style>body{{font-family:sans-serif;max-width:32em;margin:3em auto}}label{{display:block;margin:.6em 0}}input{{width:100%}}.check input{{width:auto}}.err{{color:#a00}}.ok{{color:#070}}.warn{{font-weight:bold}}</style></head>
<body><h1>Strongbox device sign-in</h1>{note}
{body}</body></html>"#
    );
    let mut r = Response::new(Body::from(page));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_age_is_left_out_when_unknown() {
        assert_eq!(requested_ago(1_800_000_000, 0), "");
        assert_eq!(requested_ago(1_000 + 150, 1_000), " 2 minutes ago");
        assert_eq!(requested_ago(1_000 + 60, 1_000), " 1 minute ago");
    }
}
