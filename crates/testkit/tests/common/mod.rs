#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers
#![allow(dead_code)]

use reqwest::header::HeaderMap;
use serde_json::Value;
use strongbox_testkit::TestServer;

pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
}

pub(crate) async fn call(s: &TestServer, method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> Reply {
    let mut req = s.http.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Reply { status, body, headers }
}

pub(crate) fn code(r: &Reply) -> &str {
    r.body.pointer("/error/code").and_then(Value::as_str).unwrap_or("")
}
