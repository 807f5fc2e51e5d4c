//! A corporate IdP's user tokens accepted directly on the data plane: a trusted issuer with a
//! static JWKS (a local ES256 key pair plays the IdP) and user-token acceptance, its tokens
//! mapped to a Strongbox user by the `email` claim (or to a synthetic external principal), RBAC
//! applied to the mapped principal, and every rejection answered with 401 and its reason.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{Reply, call};
use serde_json::{Value, json};
use strongbox_crypto::jws::SigningKey;
use strongbox_testkit::TestServer;

const T0: i64 = 1_800_000_000;
const V: &str = "api-version=7.6";
const SECRETS_USER: &str = "/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6";
const ISSUER: &str = "https://login.corp.example/tenant-1/v2.0";
const APP_AUD: &str = "api://strongbox-vault";

/// The IdP: an ES256 key and its JWKS entry.
struct Idp {
    key: SigningKey,
}

impl Idp {
    fn new(kid: &str) -> Self {
        Self { key: SigningKey::generate(kid.to_owned()).unwrap() }
    }
    fn jwks(&self) -> Value {
        json!({"keys": [serde_json::to_value(self.key.public().jwk()).unwrap()]})
    }
    /// Signs `claims` with this key, under `kid` (normally its own).
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid});
        strongbox_crypto::jwt::sign_es256(self.key.pkcs8(), &header, claims).unwrap()
    }
    fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.key.kid(), claims)
    }
}

/// Typical Entra-like user token claims for `email`.
fn user_claims(iss: &str, aud: &str, email: &str, exp: i64) -> Value {
    json!({
        "iss": iss, "aud": aud, "sub": format!("sub-{email}"), "oid": format!("oid-{email}"),
        "email": email, "preferred_username": email, "iat": T0, "nbf": T0, "exp": exp,
        "amr": ["pwd", "mfa"], "azp": "11111111-2222-3333-4444-555555555555",
    })
}

struct Srv {
    s: TestServer,
    admin: String,
}

impl Srv {
    async fn start() -> Self {
        let s = TestServer::start_with_fake_clock(T0).await;
        let admin = s.admin_token().await;
        Self { s, admin }
    }
    fn advance(&self, secs: i64) {
        self.s.clock.as_ref().unwrap().advance(secs);
    }
    async fn mgmt(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        call(&self.s, method, &format!("{}/{path}?{V}", self.s.vault_url("default")), Some(&self.admin), body).await
    }
    async fn get_secret(&self, name: &str, token: &str) -> Reply {
        call(&self.s, "GET", &format!("{}/secrets/{name}?{V}", self.s.vault_url("default")), Some(token), None).await
    }
    async fn put_secret(&self, name: &str, value: &str) {
        let r = self.mgmt("PUT", &format!("secrets/{name}"), Some(json!({"value": value}))).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    async fn grant_secrets_user(&self, object_id: &str, secret: &str) {
        let id = uuid_v4_like(object_id, secret);
        let body = json!({"properties": {"roleDefinitionId": SECRETS_USER, "principalId": object_id}});
        let path = format!("secrets/{secret}/providers/Microsoft.Authorization/roleAssignments/{id}");
        let r = self.mgmt("PUT", &path, Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    async fn external_events(&self, outcome: &str) -> usize {
        let ev = self.s.running.core.identity.security_events(0, 100_000).await.unwrap();
        ev.iter().filter(|e| e.kind == "signin.external" && e.outcome == outcome).count()
    }
}

/// A fixed-format GUID made from two strings (role assignment names must be GUIDs).
fn uuid_v4_like(a: &str, b: &str) -> String {
    let h = strongbox_crypto::hex(&strongbox_crypto::sha256(format!("{a}/{b}").as_bytes()));
    format!("{}-{}-4{}-8{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// A 401 whose error message starts with `prefix`.
fn assert_401(r: &Reply, prefix: &str) {
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "Unauthorized", "{}", r.body);
    let m = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(m.starts_with(prefix), "expected '{prefix}…', got '{m}'");
    assert!(r.headers.get("www-authenticate").is_some());
}

#[tokio::test]
async fn corporate_idp_user_tokens_map_to_strongbox_users() {
    let t = Srv::start().await;
    let idp = Idp::new("corp-k1");
    let resource = t.s.resource();
    let put = t
        .mgmt(
            "PUT",
            "_strongbox/trustedissuers/corp",
            Some(json!({
                "issuer": ISSUER,
                "jwks": idp.jwks(),
                "userTokens": {"audiences": [resource, APP_AUD], "userClaim": "email", "domains": ["Corp.Example"]},
            })),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["userTokens"]["domains"], json!(["corp.example"]), "domains are stored in lower case");
    // the user mapping needs the domains the issuer is authoritative for, each held by one issuer
    let no_domains = t
        .mgmt(
            "PUT",
            "_strongbox/trustedissuers/corp3",
            Some(json!({"issuer": "https://idp3.example/v2.0", "jwks": idp.jwks(),
                        "userTokens": {"audiences": [APP_AUD], "userClaim": "email"}})),
        )
        .await;
    assert_eq!(no_domains.status, 400, "{}", no_domains.body);
    let taken = t
        .mgmt(
            "PUT",
            "_strongbox/trustedissuers/corp3",
            Some(json!({"issuer": "https://idp3.example/v2.0", "jwks": idp.jwks(),
                        "userTokens": {"audiences": [APP_AUD], "userClaim": "email", "domains": ["corp.example"]}})),
        )
        .await;
    assert_eq!(taken.status, 409, "a domain is federated to one issuer: {}", taken.body);
    assert_eq!(put.body["acceptUserTokens"], true);
    assert_eq!(put.body["userTokens"]["principalMapping"], "user");
    let bad = t
        .mgmt(
            "PUT",
            "_strongbox/trustedissuers/corp2",
            Some(json!({"issuer": ISSUER, "jwks": idp.jwks(), "userTokens": {"audiences": [APP_AUD], "userClaim": "name"}})),
        )
        .await;
    assert_eq!(bad.status, 400, "an unsupported claim is refused: {}", bad.body);

    let user = t
        .mgmt(
            "POST",
            "_strongbox/users",
            Some(json!({"userPrincipalName": "alice@corp.example", "password": "a long enough password"})),
        )
        .await;
    assert_eq!(user.status, 201, "{}", user.body);
    let alice = user.body["objectId"].as_str().unwrap().to_owned();
    t.put_secret("payroll", "s3cret").await;
    t.put_secret("other", "x").await;
    t.grant_secrets_user(&alice, "payroll").await;

    // the IdP token (UPN matched case-insensitively) reaches the secret, under either audience
    let tok = idp.sign(&user_claims(ISSUER, APP_AUD, "Alice@corp.example", T0 + 3600));
    let r = t.get_secret("payroll", &tok).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], "s3cret");
    assert_eq!(t.get_secret("other", &tok).await.status, 403, "RBAC applies to the mapped user");
    let tok_res = idp.sign(&user_claims(ISSUER, &format!("{resource}/"), "alice@corp.example", T0 + 3600));
    assert_eq!(t.get_secret("payroll", &tok_res).await.status, 200);
    // the principal: the local user's object id, our tenant, the IdP's amr
    let p = t.s.running.core.identity.authenticate(&tok).await.unwrap();
    assert_eq!(p.object_id, alice);
    assert_eq!(p.tenant_id, t.s.boot.tenant_id);
    assert_eq!(p.amr, vec!["pwd".to_owned(), "mfa".to_owned()]);
    assert!(p.app_id.is_empty(), "an IdP's client id is not one of our applications");
    // one sign-in event per token (first use), not per request
    assert_eq!(t.external_events("success").await, 2);
    // one issuer URL, one registration: a second name would share its external principal ids
    let fed = t
        .mgmt("PUT", "_strongbox/trustedissuers/aaa-corp-fed", Some(json!({"issuer": ISSUER, "jwks": idp.jwks()})))
        .await;
    assert_eq!(fed.status, 409, "{}", fed.body);
    let tok_again = idp.sign(&user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 + 3500));
    assert_eq!(t.get_secret("payroll", &tok_again).await.status, 200);
    // our own tokens are unaffected
    assert_eq!(t.get_secret("payroll", &t.admin).await.status, 200);

    // negatives, each with its reason
    assert_401(
        &t.get_secret("payroll", &idp.sign(&user_claims(ISSUER, "api://other", "alice@corp.example", T0 + 3600))).await,
        "AKV10022: Invalid audience.",
    );
    assert_401(
        &t.get_secret("payroll", &idp.sign(&user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 - 61))).await,
        "AKV10022: Token is expired.",
    );
    let mut early = user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 + 3600);
    early["nbf"] = json!(T0 + 600);
    assert_401(&t.get_secret("payroll", &idp.sign(&early)).await, "AKV10023: Token is not yet valid.");
    assert_401(
        &t.get_secret(
            "payroll",
            &idp.sign(&user_claims("https://unknown.example/v2.0", APP_AUD, "alice@corp.example", T0 + 3600)),
        )
        .await,
        "AKV10032: Invalid issuer.",
    );
    let forger = Idp::new("corp-k1");
    assert_401(
        &t.get_secret("payroll", &forger.sign(&user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 + 3600))).await,
        "AKV10031: Token signature validation failed.",
    );
    assert_401(
        &t.get_secret(
            "payroll",
            &idp.sign_as("corp-k9", &user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 + 3600)),
        )
        .await,
        "AKV10046: Unable to resolve the key",
    );
    assert_401(
        &t.get_secret("payroll", &idp.sign(&user_claims(ISSUER, APP_AUD, "mallory@corp.example", T0 + 3600))).await,
        "AKV10032: The token's user is not known to this directory.",
    );
    // a local user outside the issuer's domains cannot be signed in by it
    let outsider = t
        .mgmt(
            "POST",
            "_strongbox/users",
            Some(json!({"userPrincipalName": "root@strongbox.local", "password": "a long enough password"})),
        )
        .await;
    assert_eq!(outsider.status, 201, "{}", outsider.body);
    assert_401(
        &t.get_secret("payroll", &idp.sign(&user_claims(ISSUER, APP_AUD, "root@strongbox.local", T0 + 3600))).await,
        "AKV10032: The token's user is outside the domains this issuer is trusted for.",
    );
    let mut no_email = user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 + 3600);
    no_email.as_object_mut().unwrap().remove("email");
    assert_401(
        &t.get_secret("payroll", &idp.sign(&no_email)).await,
        "AKV10032: The token lacks the claim that identifies the user.",
    );
    assert_eq!(t.external_events("failure").await, 3, "mapping failures after a valid signature are recorded");

    // a federation-only issuer (workload identity) is not accepted on the data plane
    let cluster = Idp::new("cluster-k1");
    let cluster_iss = "https://oidc.cluster.example/issuer";
    let put = t
        .mgmt("PUT", "_strongbox/trustedissuers/cluster", Some(json!({"issuer": cluster_iss, "jwks": cluster.jwks()})))
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["acceptUserTokens"], false);
    assert_401(
        &t.get_secret("payroll", &cluster.sign(&user_claims(cluster_iss, APP_AUD, "alice@corp.example", T0 + 3600)))
            .await,
        "AKV10032: Invalid issuer.",
    );

    // turning user tokens off rejects the token already in use (cached) and new ones
    let off = t.mgmt("PATCH", "_strongbox/trustedissuers/corp", Some(json!({"userTokens": null}))).await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(off.body["acceptUserTokens"], false);
    assert_eq!(off.body["keyIds"], json!(["corp-k1"]), "the keys stay");
    assert_401(&t.get_secret("payroll", &tok).await, "AKV10032: The principal is disabled or deleted");
    assert_401(
        &t.get_secret("payroll", &idp.sign(&user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 + 1800))).await,
        "AKV10032: Invalid issuer.",
    );
    let on = t
        .mgmt(
            "PATCH",
            "_strongbox/trustedissuers/corp",
            Some(json!({"userTokens": {"audiences": [APP_AUD], "userClaim": "preferred_username", "domains": ["corp.example"]}})),
        )
        .await;
    assert_eq!(on.status, 200, "{}", on.body);
    assert_eq!(t.get_secret("payroll", &tok).await.status, 200, "accepted again");

    // a disabled user is rejected at once on this node, and stays rejected after the status TTL
    let dis = t.mgmt("PATCH", "_strongbox/users/alice@corp.example", Some(json!({"accountEnabled": false}))).await;
    assert_eq!(dis.status, 200, "{}", dis.body);
    assert_401(&t.get_secret("payroll", &tok).await, "AKV10032: The principal is disabled or deleted");
    t.advance(strongbox_identity::STATUS_TTL + 1);
    assert_401(&t.get_secret("payroll", &tok).await, "AKV10032: The principal is disabled or deleted");
    let fresh = idp.sign(&user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 + 3000));
    assert_401(&t.get_secret("payroll", &fresh).await, "AKV10032: The principal is disabled or deleted");
    let en = t.mgmt("PATCH", "_strongbox/users/alice@corp.example", Some(json!({"accountEnabled": true}))).await;
    assert_eq!(en.status, 200, "{}", en.body);
    assert_eq!(t.get_secret("payroll", &fresh).await.status, 200);

    // the cached token still expires (60 s skew)
    t.advance(3600 + 61 - strongbox_identity::STATUS_TTL - 1);
    assert_401(&t.get_secret("payroll", &tok).await, "AKV10022: Token is expired.");
}

#[tokio::test]
async fn corporate_idp_people_as_external_principals() {
    let t = Srv::start().await;
    let idp = Idp::new("corp-k1");
    let put = t
        .mgmt(
            "PUT",
            "_strongbox/trustedissuers/corp",
            Some(json!({
                "issuer": ISSUER,
                "jwks": idp.jwks(),
                "userTokens": {"audiences": [APP_AUD], "userClaim": "oid", "principalMapping": "external"},
            })),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let id = t.mgmt("POST", "_strongbox/trustedissuers/corp/principalid", Some(json!({"value": "oid-bob"}))).await;
    assert_eq!(id.status, 200, "{}", id.body);
    let bob = id.body["objectId"].as_str().unwrap().to_owned();
    assert_eq!(bob, strongbox_identity::external_object_id(ISSUER, "oid-bob"));
    t.put_secret("build-key", "k").await;
    t.grant_secrets_user(&bob, "build-key").await;

    // no local user needed: the role assigned to the derived object id applies
    let tok = idp.sign(&user_claims(ISSUER, APP_AUD, "bob", T0 + 3600));
    let r = t.get_secret("build-key", &tok).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], "k");
    let carol = idp.sign(&user_claims(ISSUER, APP_AUD, "carol", T0 + 3600));
    assert_eq!(t.get_secret("build-key", &carol).await.status, 403, "a valid person without a role");
    let p = t.s.running.core.identity.authenticate(&tok).await.unwrap();
    assert_eq!(p.object_id, bob);

    // deleting the issuer revokes the tokens in use
    let del = t.mgmt("DELETE", "_strongbox/trustedissuers/corp", None).await;
    assert_eq!(del.status, 204);
    assert_401(&t.get_secret("build-key", &tok).await, "AKV10032: The principal is disabled or deleted");
    assert_eq!(
        t.mgmt("POST", "_strongbox/trustedissuers/corp/principalid", Some(json!({"value": "x"}))).await.status,
        404
    );
}

#[tokio::test]
async fn corporate_idp_group_claims_map_to_strongbox_groups() {
    let t = Srv::start().await;
    let idp = Idp::new("corp-k1");
    const IDP_ENG: &str = "7f1c2a9e-eng-idp-group";
    let g = t.mgmt("POST", "_strongbox/groups", Some(json!({"displayName": "Engineers"}))).await;
    assert_eq!(g.status, 201, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    t.put_secret("design-doc", "d").await;
    t.grant_secrets_user(&gid, "design-doc").await;

    // the map must name existing groups; a display name is resolved to the object id
    let settings = |map: Value| {
        json!({
            "issuer": ISSUER, "jwks": idp.jwks(),
            "userTokens": {"audiences": [APP_AUD], "userClaim": "oid", "principalMapping": "external",
                           "groupClaim": "groups", "groupMap": map},
        })
    };
    let bad = t.mgmt("PUT", "_strongbox/trustedissuers/corp", Some(settings(json!({IDP_ENG: "No Such Group"})))).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.body["error"]["code"], "BadParameter", "{}", bad.body);
    let no_claim = t
        .mgmt(
            "PUT",
            "_strongbox/trustedissuers/corp",
            Some(json!({"issuer": ISSUER, "jwks": idp.jwks(),
                        "userTokens": {"audiences": [APP_AUD], "groupMap": {IDP_ENG: gid}}})),
        )
        .await;
    assert_eq!(no_claim.status, 400, "a map without a claim: {}", no_claim.body);
    let put = t.mgmt("PUT", "_strongbox/trustedissuers/corp", Some(settings(json!({IDP_ENG: "engineers"})))).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["userTokens"]["groupClaim"], "groups");
    assert_eq!(put.body["userTokens"]["groupMap"], json!({IDP_ENG: gid}));

    let with_groups = |groups: Value, exp: i64| {
        let mut c = user_claims(ISSUER, APP_AUD, "dana", exp);
        if !groups.is_null() {
            c["groups"] = groups;
        }
        idp.sign(&c)
    };
    // the IdP's group value carried in the token brings the group's role assignment
    let tok = with_groups(json!(["unrelated", IDP_ENG]), T0 + 3600);
    let r = t.get_secret("design-doc", &tok).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], "d");
    let p = t.s.running.core.identity.authenticate(&tok).await.unwrap();
    assert_eq!(p.token_groups, vec![gid.clone()]);
    assert!(t.s.running.core.access.groups_of(&p.object_id).is_empty(), "no stored membership is created");
    // a single string works too
    assert_eq!(t.get_secret("design-doc", &with_groups(json!(IDP_ENG), T0 + 3599)).await.status, 200);
    // the same person without the group claim, or with values that are not in the map (the local
    // group's own id and name are not trusted from the IdP), gets nothing
    assert_eq!(t.get_secret("design-doc", &with_groups(Value::Null, T0 + 3598)).await.status, 403);
    let unmapped = with_groups(json!([gid, "Engineers", IDP_ENG.to_uppercase()]), T0 + 3597);
    assert_eq!(t.get_secret("design-doc", &unmapped).await.status, 403);
    let mut other_claim = user_claims(ISSUER, APP_AUD, "dana", T0 + 3596);
    other_claim["roles"] = json!([IDP_ENG]);
    assert_eq!(t.get_secret("design-doc", &idp.sign(&other_claim)).await.status, 403, "only the configured claim");

    // a deny assignment on the group reaches token members too (the cached token included)
    let d = uuid_v4_like("deny", &gid);
    let deny = json!({"principalIds": [gid], "dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"],
                      "scope": "/vaults/default/secrets/design-doc", "name": "not for engineers"});
    let r = t.mgmt("PUT", &format!("_strongbox/denyAssignments/{d}"), Some(deny)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let denied = t.get_secret("design-doc", &tok).await;
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert!(denied.body["error"]["message"].as_str().unwrap_or_default().contains(&d), "{}", denied.body);
    let r = t.mgmt("DELETE", &format!("_strongbox/denyAssignments/{d}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(t.get_secret("design-doc", &tok).await.status, 200);

    // turning the mapping off (PATCH without groupClaim) stops new tokens from carrying the group
    let off = t
        .mgmt(
            "PATCH",
            "_strongbox/trustedissuers/corp",
            Some(json!({"userTokens": {"audiences": [APP_AUD], "userClaim": "oid", "principalMapping": "external"}})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert!(off.body["userTokens"].get("groupMap").is_none(), "{}", off.body);
    assert_eq!(t.get_secret("design-doc", &with_groups(json!([IDP_ENG]), T0 + 3595)).await.status, 403);
    let on = t
        .mgmt(
            "PATCH",
            "_strongbox/trustedissuers/corp",
            Some(json!({"userTokens": {"audiences": [APP_AUD], "userClaim": "oid", "principalMapping": "external",
                                        "groupClaim": "groups", "groupMap": {IDP_ENG: gid}}})),
        )
        .await;
    assert_eq!(on.status, 200, "{}", on.body);
    assert_eq!(t.get_secret("design-doc", &with_groups(json!([IDP_ENG]), T0 + 3594)).await.status, 200);
    // an access policy naming the group (a vault without RBAC) applies to token members as well
    let r = t.mgmt("PUT", "_strongbox/vaults/legacy", Some(json!({}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let legacy = t.s.vault_url("legacy");
    let r = call(&t.s, "PUT", &format!("{legacy}/secrets/old?{V}"), Some(&t.admin), Some(json!({"value": "o"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = t.mgmt("PATCH", "_strongbox/vaults/legacy", Some(json!({"enableRbacAuthorization": false}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let old_url = format!("{legacy}/secrets/old?{V}");
    let with_group = with_groups(json!([IDP_ENG]), T0 + 3592);
    assert_eq!(call(&t.s, "GET", &old_url, Some(&with_group), None).await.status, 403, "no policy yet");
    let path = format!("_strongbox/vaults/legacy/accessPolicies/{gid}");
    let r = t.mgmt("PUT", &path, Some(json!({"permissions": {"secrets": ["Get"]}}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(&t.s, "GET", &old_url, Some(&with_group), None).await;
    assert_eq!((r.status, &r.body["value"]), (200, &json!("o")), "{}", r.body);
    let without = with_groups(Value::Null, T0 + 3591);
    assert_eq!(call(&t.s, "GET", &old_url, Some(&without), None).await.status, 403);

    // a deleted group's assignments reach no one, whatever the token says
    let del = t.mgmt("DELETE", &format!("_strongbox/groups/{gid}"), None).await;
    assert!(del.status == 200 || del.status == 204, "{}", del.body);
    assert_eq!(t.get_secret("design-doc", &with_groups(json!([IDP_ENG]), T0 + 3593)).await.status, 403);
}

/// A token exchange with a federated assertion; the reply.
async fn exchange(t: &Srv, app: &str, assertion: &str) -> Reply {
    let scope = format!("{}/.default", t.s.resource());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", app),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion),
        ("scope", scope.as_str()),
    ];
    let r = t.s.http.post(t.s.token_url()).form(&form).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Reply { status, body: r.json().await.unwrap(), headers }
}

#[tokio::test]
async fn trusted_issuer_tokens_have_a_bounded_lifetime_and_one_registration() {
    let t = Srv::start().await;
    let idp = Idp::new("corp-k1");
    let settings = json!({"audiences": [APP_AUD], "userClaim": "email", "principalMapping": "external"});
    let put = t
        .mgmt(
            "PUT",
            "_strongbox/trustedissuers/corp",
            Some(json!({"issuer": ISSUER, "jwks": idp.jwks(), "userTokens": settings})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);

    // the same issuer URL under a second name is refused (also with a trailing slash); the
    // first name can still be updated, and the URL is free again once that one is deleted
    for url in [ISSUER.to_owned(), format!("{ISSUER}/")] {
        let dup =
            t.mgmt("PUT", "_strongbox/trustedissuers/corp-two", Some(json!({"issuer": url, "jwks": idp.jwks()}))).await;
        assert_eq!(dup.status, 409, "{}", dup.body);
        assert_eq!(dup.body["error"]["code"], "Conflict", "{}", dup.body);
        assert!(dup.body["error"]["message"].as_str().unwrap().contains("'corp'"), "{}", dup.body);
    }
    let again = t
        .mgmt(
            "PUT",
            "_strongbox/trustedissuers/CORP",
            Some(json!({"issuer": ISSUER, "jwks": idp.jwks(), "userTokens": settings})),
        )
        .await;
    assert_eq!(again.status, 200, "updating the same registration: {}", again.body);
    let listed = t.mgmt("GET", "_strongbox/trustedissuers", None).await;
    assert_eq!(listed.body["value"].as_array().unwrap().len(), 1, "{}", listed.body);

    // user tokens: at most 24 h, counted from iat and from now
    let day = 24 * 3600;
    let ok = idp.sign(&user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 + day));
    // signed in (403: no role was assigned to the person)
    let r = t.get_secret("s", &ok).await;
    assert_eq!(r.status, 403, "a 24 h token is accepted: {}", r.body);
    let long = idp.sign(&user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 + day + 3600));
    assert_401(&t.get_secret("s", &long).await, "AKV10022: Token lifetime exceeds");
    let mut no_iat = user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 + 30 * day);
    no_iat.as_object_mut().unwrap().remove("iat");
    assert_401(&t.get_secret("s", &idp.sign(&no_iat)).await, "AKV10022: Token lifetime exceeds");
    let mut old_iat = user_claims(ISSUER, APP_AUD, "alice@corp.example", T0 + 3600);
    old_iat["iat"] = json!(T0 - day);
    assert_401(&t.get_secret("s", &idp.sign(&old_iat)).await, "AKV10022: Token lifetime exceeds");

    // federated assertions of the same issuer: the same bound at the token endpoint
    let sp = t.mgmt("POST", "_strongbox/serviceprincipals", Some(json!({"displayName": "fed-app"}))).await;
    assert_eq!(sp.status, 201, "{}", sp.body);
    let app = sp.body["appId"].as_str().unwrap().to_owned();
    let fc = t
        .mgmt(
            "POST",
            &format!("_strongbox/serviceprincipals/{app}/federatedcredentials"),
            Some(json!({"name": "wl", "issuer": ISSUER, "subject": "system:serviceaccount:ns:sa"})),
        )
        .await;
    assert_eq!(fc.status, 201, "{}", fc.body);
    let fed = |iat: Option<i64>, exp: i64| {
        let mut c = json!({"iss": ISSUER, "sub": "system:serviceaccount:ns:sa", "aud": ["api://AzureADTokenExchange"],
                           "nbf": T0, "exp": exp});
        if let Some(i) = iat {
            c["iat"] = json!(i);
        }
        idp.sign(&c)
    };
    let r = exchange(&t, &app, &fed(Some(T0), T0 + 3600)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (iat, exp) in [(Some(T0), T0 + day + 3600), (None, T0 + 30 * day), (Some(T0 - day), T0 + 600)] {
        let r = exchange(&t, &app, &fed(iat, exp)).await;
        assert_eq!(r.status, 400, "iat {iat:?} exp {exp}: {}", r.body);
        assert_eq!(r.body["error"], "invalid_client", "{}", r.body);
        let d = r.body["error_description"].as_str().unwrap();
        assert!(d.starts_with("AADSTS700024:") && d.contains("24 hours"), "{d}");
        assert!(r.body.get("access_token").is_none());
    }
}
