//! The behaviour every storage backend must show. Backends call [`run_all`] from their tests
//! with an empty store. Failures panic with a message naming the broken rule.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use crate::{Storage, StorageError, Txn, key_after, prefix_end};

pub async fn run_all(s: &dyn Storage) {
    get_put_delete(s).await;
    binary_and_large_values(s).await;
    scan_order_bounds_and_paging(s).await;
    transactions_are_atomic(s).await;
    conditions(s).await;
    key_ordering_is_bytewise(s).await;
}

/// Runs the concurrency rule; needs an owned handle because it spawns tasks.
pub async fn run_concurrent(s: Arc<dyn Storage>) {
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.commit(Txn::new().absent("cc/slot").put("cc/slot", vec![i])).await }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StorageError::ConditionFailed) => {}
            Err(e) => panic!("concurrent commit failed with a backend error: {e}"),
        }
    }
    assert_eq!(wins, 1, "exactly one of 16 racing create-if-absent commits must win");
}

async fn get_put_delete(s: &dyn Storage) {
    assert_eq!(s.get("gpd/a").await.unwrap(), None, "missing key must read as None");
    s.commit(Txn::new().put("gpd/a", b"1".to_vec())).await.unwrap();
    assert_eq!(s.get("gpd/a").await.unwrap(), Some(b"1".to_vec()));
    s.commit(Txn::new().put("gpd/a", b"2".to_vec())).await.unwrap();
    assert_eq!(s.get("gpd/a").await.unwrap(), Some(b"2".to_vec()), "put must overwrite");
    s.commit(Txn::new().delete("gpd/a")).await.unwrap();
    assert_eq!(s.get("gpd/a").await.unwrap(), None, "delete must remove");
    s.commit(Txn::new().delete("gpd/never")).await.unwrap();
    s.commit(Txn::new().put("gpd/empty", Vec::new())).await.unwrap();
    assert_eq!(s.get("gpd/empty").await.unwrap(), Some(Vec::new()), "empty value differs from absent");
}

async fn binary_and_large_values(s: &dyn Storage) {
    let bin: Vec<u8> = (0..=255u8).collect();
    s.commit(Txn::new().put("bin/x", bin.clone())).await.unwrap();
    assert_eq!(s.get("bin/x").await.unwrap(), Some(bin));
    let big = vec![0xa5u8; 2 * 1024 * 1024];
    s.commit(Txn::new().put("bin/big", big.clone())).await.unwrap();
    assert_eq!(s.get("bin/big").await.unwrap().map(|v| v.len()), Some(big.len()));
}

async fn scan_order_bounds_and_paging(s: &dyn Storage) {
    let mut t = Txn::new();
    for i in (0..60).rev() {
        t = t.put(format!("scan/{i:03}"), vec![i as u8]);
    }
    t = t.put("scan0", b"outside".to_vec()).put("scam/z", b"outside".to_vec());
    s.commit(t).await.unwrap();
    let all = s.scan("scan/", &prefix_end("scan/"), 1000).await.unwrap();
    assert_eq!(all.len(), 60, "prefix scan must not leak neighbours");
    assert!(all.iter().zip(all.iter().skip(1)).all(|(a, b)| a.0 < b.0), "scan must be ascending");
    assert_eq!(all.first(), Some(&("scan/000".into(), vec![0])));
    // paging with key_after
    let mut seen = Vec::new();
    let mut start = "scan/".to_string();
    loop {
        let page = s.scan(&start, &prefix_end("scan/"), 25).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 25, "scan must honour its limit");
        start = key_after(&page.last().unwrap().0);
        seen.extend(page.into_iter().map(|e| e.0));
    }
    assert_eq!(seen.len(), 60, "paging must visit every key once");
    // end is exclusive, start inclusive
    let mid = s.scan("scan/010", "scan/020", 100).await.unwrap();
    assert_eq!(mid.first().unwrap().0, "scan/010");
    assert_eq!(mid.len(), 10);
    assert!(s.scan("scan/020", "scan/010", 10).await.unwrap().is_empty(), "inverted range is empty");
}

async fn transactions_are_atomic(s: &dyn Storage) {
    s.commit(Txn::new().put("atom/guard", b"g".to_vec())).await.unwrap();
    let r = s.commit(Txn::new().absent("atom/guard").put("atom/a", b"a".to_vec()).put("atom/b", b"b".to_vec())).await;
    assert_eq!(r, Err(StorageError::ConditionFailed));
    assert_eq!(s.get("atom/a").await.unwrap(), None, "failed transaction must write nothing");
    assert_eq!(s.get("atom/b").await.unwrap(), None, "failed transaction must write nothing");
    s.commit(Txn::new().put("atom/a", b"a".to_vec()).put("atom/b", b"b".to_vec()).delete("atom/guard")).await.unwrap();
    assert_eq!(s.get("atom/a").await.unwrap(), Some(b"a".to_vec()));
    assert_eq!(s.get("atom/guard").await.unwrap(), None);
    // later ops in one transaction win over earlier ones on the same key
    s.commit(Txn::new().put("atom/c", b"1".to_vec()).put("atom/c", b"2".to_vec())).await.unwrap();
    assert_eq!(s.get("atom/c").await.unwrap(), Some(b"2".to_vec()));
}

async fn conditions(s: &dyn Storage) {
    s.commit(Txn::new().absent("cond/x").put("cond/x", b"v1".to_vec())).await.unwrap();
    assert_eq!(
        s.commit(Txn::new().absent("cond/x").put("cond/x", b"v9".to_vec())).await,
        Err(StorageError::ConditionFailed)
    );
    assert_eq!(
        s.commit(Txn::new().equals("cond/x", b"nope".to_vec()).put("cond/x", b"v9".to_vec())).await,
        Err(StorageError::ConditionFailed)
    );
    s.commit(Txn::new().equals("cond/x", b"v1".to_vec()).put("cond/x", b"v2".to_vec())).await.unwrap();
    assert_eq!(s.get("cond/x").await.unwrap(), Some(b"v2".to_vec()));
    assert_eq!(
        s.commit(Txn::new().equals("cond/missing", Vec::new())).await,
        Err(StorageError::ConditionFailed),
        "Equals on a missing key must fail"
    );
}

async fn key_ordering_is_bytewise(s: &dyn Storage) {
    s.commit(Txn::new().put("ord/B", vec![]).put("ord/a", vec![]).put("ord/-", vec![]).put("ord/0", vec![]))
        .await
        .unwrap();
    let keys: Vec<String> = s.scan("ord/", &prefix_end("ord/"), 10).await.unwrap().into_iter().map(|e| e.0).collect();
    assert_eq!(keys, vec!["ord/-", "ord/0", "ord/B", "ord/a"], "keys must sort bytewise (C collation)");
}
