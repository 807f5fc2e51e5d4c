//! The official Rust SDK (`azure_security_keyvault_secrets`) against a real server over HTTPS,
//! with challenge-resource verification on and tokens from Strongbox's own token endpoint.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientOptions, Transport};
use azure_core::time::{Duration, OffsetDateTime};
use azure_security_keyvault_secrets::models::{
    RestoreSecretParameters, SecretAttributes, SetSecretParameters, UpdateSecretPropertiesParameters,
};
use azure_security_keyvault_secrets::{ResourceExt, SecretClient, SecretClientOptions};
use futures_util::TryStreamExt;
use strongbox_testkit::TestServer;

/// Fetches client-credentials tokens from Strongbox for whatever scope the SDK asks for.
#[derive(Debug)]
struct StrongboxCredential {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: String,
}

#[async_trait::async_trait]
impl TokenCredential for StrongboxCredential {
    async fn get_token(&self, scopes: &[&str], _: Option<TokenRequestOptions<'_>>) -> azure_core::Result<AccessToken> {
        let scope = scopes.join(" ");
        let r: serde_json::Value = self
            .http
            .post(&self.token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
                ("scope", &scope),
            ])
            .send()
            .await
            .map_err(|e| azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e.to_string()))?
            .json()
            .await
            .map_err(|e| azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e.to_string()))?;
        let token = r["access_token"].as_str().unwrap_or_default().to_owned();
        let secs = r["expires_in"].as_i64().unwrap_or(0);
        Ok(AccessToken::new(token, OffsetDateTime::now_utc() + Duration::seconds(secs)))
    }
}

#[tokio::test]
async fn rust_sdk_drives_the_secrets_api() {
    let s = TestServer::start().await;
    let cred = Arc::new(StrongboxCredential {
        http: s.http.clone(),
        token_url: s.token_url(),
        client_id: s.boot.client_id.clone(),
        client_secret: s.boot.client_secret.expose().to_owned(),
    });
    let options = SecretClientOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(s.http.clone()))),
            ..Default::default()
        },
        verify_challenge_resource: Some(true),
        ..Default::default()
    };
    let vault = format!("{}/", s.vault_url("default"));
    let client = SecretClient::new(&vault, cred, Some(options)).unwrap();

    let params = SetSecretParameters {
        value: Some("from-rust".into()),
        content_type: Some("text/plain".into()),
        ..Default::default()
    };
    let set = client.set_secret("rust-sdk", params.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
    let rid = set.resource_id().unwrap();
    assert_eq!(rid.name, "rust-sdk");
    assert_eq!(rid.vault_url, s.vault_url("default"));
    assert_eq!(rid.version.as_deref().map(str::len), Some(32));

    let got = client.get_secret("rust-sdk", None).await.unwrap().into_model().unwrap();
    assert_eq!(got.value.as_deref(), Some("from-rust"));
    assert_eq!(got.content_type.as_deref(), Some("text/plain"));

    let upd = UpdateSecretPropertiesParameters {
        secret_attributes: Some(SecretAttributes { enabled: Some(true), ..Default::default() }),
        tags: Some([("team".to_owned(), "platform".to_owned())].into()),
        ..Default::default()
    };
    let u =
        client.update_secret_properties("rust-sdk", upd.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
    assert_eq!(u.tags.unwrap()["team"], "platform");

    let mut names = Vec::new();
    let mut pager = client.list_secret_properties(None).unwrap();
    while let Some(item) = pager.try_next().await.unwrap() {
        names.push(item.resource_id().unwrap().name);
    }
    assert_eq!(names, vec!["rust-sdk".to_owned()]);

    let backup = client.backup_secret("rust-sdk", None).await.unwrap().into_model().unwrap();
    let deleted = client.delete_secret("rust-sdk", None).await.unwrap().into_model().unwrap();
    assert!(deleted.recovery_id.is_some());
    client.get_deleted_secret("rust-sdk", None).await.unwrap();
    client.purge_deleted_secret("rust-sdk", None).await.unwrap();
    let missing = client.get_secret("rust-sdk", None).await.unwrap_err();
    assert_eq!(missing.http_status().map(u16::from), Some(404));
    let restored = client
        .restore_secret(RestoreSecretParameters { secret_backup: backup.value }.try_into().unwrap(), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(restored.resource_id().unwrap().version, rid.version);
}
