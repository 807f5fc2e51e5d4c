use std::sync::Arc;

use strongbox_storage::{MemoryStorage, Storage, Txn};
use strongbox_storage_sqlite::SqliteStorage;

use super::*;

async fn unsealed_memory() -> (Arc<MemoryStorage>, Barrier, SecretBytes) {
    let mem = Arc::new(MemoryStorage::new());
    let b = Barrier::new(mem.clone());
    let kek = strongbox_crypto::random_key().unwrap();
    b.initialize(&kek).await.unwrap();
    b.unseal(&kek).await.unwrap();
    (mem, b, kek)
}

#[tokio::test]
async fn round_trip_and_sealed_refusal() {
    let (_, b, kek) = unsealed_memory().await;
    b.commit(BTxn::new().put("v/a", b"hello".to_vec())).await.unwrap();
    assert_eq!(b.get("v/a").await.unwrap().unwrap().expose(), b"hello");
    b.seal().await;
    assert_eq!(b.get("v/a").await.unwrap_err().kind, ErrorKind::Sealed);
    assert_eq!(b.commit(BTxn::new().put("v/b", vec![1])).await.unwrap_err().kind, ErrorKind::Sealed);
    b.unseal(&kek).await.unwrap();
    assert_eq!(b.get("v/a").await.unwrap().unwrap().expose(), b"hello");
}

#[tokio::test]
async fn wrong_kek_stays_sealed_and_init_never_overwrites() {
    let (_, b, _) = unsealed_memory().await;
    b.seal().await;
    let wrong = strongbox_crypto::random_key().unwrap();
    assert_eq!(b.unseal(&wrong).await.unwrap_err().kind, ErrorKind::Sealed);
    assert!(b.is_sealed().await);
    assert!(b.initialize(&wrong).await.is_err(), "initialize must refuse to replace a root key");
}

#[tokio::test]
async fn row_copied_to_another_key_fails_to_decrypt() {
    let (mem, b, _) = unsealed_memory().await;
    b.commit(BTxn::new().put("secrets/one", b"top secret".to_vec())).await.unwrap();
    let raw = mem.get("secrets/one").await.unwrap().unwrap();
    mem.commit(Txn::new().put("secrets/two", raw)).await.unwrap();
    let err = b.get("secrets/two").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Internal);
    assert!(!err.message.contains("top secret"));
}

#[tokio::test]
async fn rotation_keeps_old_values_readable() {
    let (mem, b, kek) = unsealed_memory().await;
    b.commit(BTxn::new().put("x/old", b"old".to_vec())).await.unwrap();
    assert_eq!(b.rotate(1_000).await.unwrap(), 2);
    b.commit(BTxn::new().put("x/new", b"new".to_vec())).await.unwrap();
    let raw_new = mem.get("x/new").await.unwrap().unwrap();
    assert_eq!(&raw_new[..4], &2u32.to_be_bytes());
    // survives a seal/unseal cycle (the rotated keyring was persisted)
    b.seal().await;
    b.unseal(&kek).await.unwrap();
    assert_eq!(b.get("x/old").await.unwrap().unwrap().expose(), b"old");
    assert_eq!(b.get("x/new").await.unwrap().unwrap().expose(), b"new");
}

#[tokio::test]
async fn another_node_learns_a_new_term_from_the_values_and_from_a_reload() {
    let (mem, a, kek) = unsealed_memory().await;
    let b = Barrier::new(mem.clone());
    b.unseal(&kek).await.unwrap();
    assert_eq!(a.rotate(1_000).await.unwrap(), 2);
    a.commit(BTxn::new().put("x/by-a", b"after rotation".to_vec())).await.unwrap();
    // B has not heard of term 2: reading the value makes it re-read the keyring
    assert_eq!(b.get("x/by-a").await.unwrap().unwrap().expose(), b"after rotation");
    b.commit(BTxn::new().put("x/by-b", b"b".to_vec())).await.unwrap();
    assert_eq!(&mem.get("x/by-b").await.unwrap().unwrap()[..4], &2u32.to_be_bytes(), "B writes under term 2");
    // a third rotation, seen by an explicit reload (the server's NOTIFY or tick)
    assert_eq!(a.rotate(2_000).await.unwrap(), 3);
    assert!(b.reload_keyring().await.unwrap());
    assert!(!b.reload_keyring().await.unwrap(), "nothing new the second time");
    let st = b.keyring_status().await.unwrap();
    assert_eq!(st.active, 3);
    assert_eq!(st.terms, vec![(1, 0), (2, 1_000), (3, 2_000)]);
    // a term no keyring holds is refused, not guessed
    let mut forged = mem.get("x/by-b").await.unwrap().unwrap();
    forged[..4].copy_from_slice(&9u32.to_be_bytes());
    mem.commit(Txn::new().put("x/forged", forged)).await.unwrap();
    assert_eq!(b.get("x/forged").await.unwrap_err().kind, ErrorKind::Internal);
}

#[tokio::test]
async fn rotation_comes_due_by_use_and_by_age() {
    let (mem, a, kek) = unsealed_memory().await;
    let b = Barrier::new(mem.clone());
    b.unseal(&kek).await.unwrap();
    // no birth recorded for term 1: the first check records it and does not rotate
    assert_eq!(a.rotate_if_due(5_000, 100, 1_000).await.unwrap(), None);
    for i in 0..30 {
        a.commit(BTxn::new().put(format!("u/a{i}"), vec![1])).await.unwrap();
        b.commit(BTxn::new().put(format!("u/b{i}"), vec![1])).await.unwrap();
    }
    // both nodes' counts add up in the stored record
    assert_eq!(b.flush_usage().await.unwrap(), 30);
    assert_eq!(a.keyring_status().await.unwrap().encryptions, 60);
    assert_eq!(a.rotate_if_due(5_001, 100, 1_000).await.unwrap(), None, "60 < 100 and young");
    for i in 0..50 {
        b.commit(BTxn::new().put(format!("v/b{i}"), vec![1])).await.unwrap();
    }
    b.flush_usage().await.unwrap();
    assert_eq!(a.rotate_if_due(5_002, 100, 1_000).await.unwrap(), Some(2), "110 >= 100 encryptions");
    assert_eq!(a.keyring_status().await.unwrap().encryptions, 0, "a new term starts uncounted");
    // by age
    assert_eq!(a.rotate_if_due(5_500, 100, 1_000).await.unwrap(), None);
    assert_eq!(a.rotate_if_due(6_002, 100, 1_000).await.unwrap(), Some(3), "1,000 s old");
    // the keyring survives a seal cycle with its births
    a.seal().await;
    a.unseal(&kek).await.unwrap();
    assert_eq!(a.keyring_status().await.unwrap().terms, vec![(1, 5_000), (2, 5_002), (3, 6_002)]);
    assert_eq!(a.get("u/b3").await.unwrap().unwrap().expose(), &[1]);
}

#[tokio::test]
async fn old_values_are_reencrypted_under_the_active_term_page_by_page() {
    let (mem, b, kek) = unsealed_memory().await;
    for i in 0..25 {
        b.commit(BTxn::new().put(format!("r/{i:02}"), format!("v{i}").into_bytes())).await.unwrap();
    }
    b.commit(BTxn::new().put("sys/lease/jobs", b"lease".to_vec())).await.unwrap();
    b.rotate(1_000).await.unwrap();
    b.commit(BTxn::new().put("r/new", b"already new".to_vec())).await.unwrap();
    let before_new = mem.get("r/new").await.unwrap().unwrap();
    let (mut total, mut start) = (0, String::new());
    let mut pages = 0;
    loop {
        let (n, next) = b.reencrypt_page(&start, 10, &["sys/barrier/", "sys/lease/"]).await.unwrap();
        total += n;
        pages += 1;
        match next {
            Some(s) => start = s,
            None => break,
        }
    }
    assert_eq!(total, 25, "every value of term 1 but the skipped one");
    assert!(pages >= 3);
    for i in 0..25 {
        let raw = mem.get(&format!("r/{i:02}")).await.unwrap().unwrap();
        assert_eq!(&raw[..4], &2u32.to_be_bytes(), "r/{i:02} still under term 1");
        assert_eq!(b.get(&format!("r/{i:02}")).await.unwrap().unwrap().expose(), format!("v{i}").as_bytes());
    }
    assert_eq!(mem.get("r/new").await.unwrap().unwrap(), before_new, "a value of the active term is left as it is");
    assert_eq!(&mem.get("sys/lease/jobs").await.unwrap().unwrap()[..4], &1u32.to_be_bytes(), "skipped prefix");
    // a second pass finds nothing; the keyring still opens after a seal cycle
    assert_eq!(b.reencrypt_page("", 1000, &[]).await.unwrap().0, 1, "only the skipped lease record is left");
    b.seal().await;
    b.unseal(&kek).await.unwrap();
    assert_eq!(b.get("r/07").await.unwrap().unwrap().expose(), b"v7");
}

#[tokio::test]
async fn compare_and_set_with_stamps() {
    let (_, b, _) = unsealed_memory().await;
    b.commit(BTxn::new().absent("c/k").put("c/k", b"1".to_vec())).await.unwrap();
    assert_eq!(
        b.commit(BTxn::new().absent("c/k").put("c/k", b"2".to_vec())).await.unwrap_err().kind,
        ErrorKind::Conflict
    );
    let v = b.get_versioned("c/k").await.unwrap().unwrap();
    b.commit(BTxn::new().unchanged("c/k", &v.stamp).put("c/k", b"2".to_vec())).await.unwrap();
    let again = BTxn::new().unchanged("c/k", &v.stamp).put("c/k", b"3".to_vec());
    assert_eq!(b.commit(again).await.unwrap_err().kind, ErrorKind::Conflict);
    assert_eq!(b.get("c/k").await.unwrap().unwrap().expose(), b"2");
}

#[tokio::test]
async fn plaintext_never_reaches_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kv.db");
    let marker = "PLAINTEXT-MARKER-7f3a9c-should-never-be-on-disk";
    {
        let s = Arc::new(SqliteStorage::open(&db).await.unwrap());
        let b = Barrier::new(s.clone());
        let kek = strongbox_crypto::random_key().unwrap();
        b.initialize(&kek).await.unwrap();
        b.unseal(&kek).await.unwrap();
        for i in 0..50 {
            b.commit(BTxn::new().put(format!("s/{i}"), marker.as_bytes().to_vec())).await.unwrap();
        }
        assert_eq!(b.get("s/3").await.unwrap().unwrap().expose(), marker.as_bytes());
        drop(b);
        Arc::into_inner(s).unwrap().close().await;
    }
    let mut found = false;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        found |= bytes.windows(marker.len()).any(|w| w == marker.as_bytes());
    }
    assert!(!found, "plaintext found in database files");
}

#[test]
fn key_file_seal_is_0600_and_refuses_loose_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let seal = KeyFileSeal::new(dir.path().join("seal.key"));
    let k = seal.create().unwrap();
    let mode = std::fs::metadata(seal.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(seal.load().unwrap(), k);
    assert!(seal.create().is_err(), "must not overwrite an existing key file");
    std::fs::set_permissions(seal.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(seal.load().is_err());
}

#[test]
fn transactions_and_stamps_do_not_print_values() {
    let t = BTxn::new().put("k/1", b"hunter2-plaintext".to_vec());
    let printed = format!("{t:?}");
    assert!(printed.contains("k/1"));
    assert!(!printed.contains("hunter2"));
    assert!(!format!("{:?}", Stamp(b"hunter2".to_vec())).contains("hunter2"));
}

#[tokio::test]
async fn a_view_sees_only_its_area() {
    let (_, b, _) = unsealed_memory().await;
    let b = Arc::new(b);
    let secrets = View::new(b.clone(), keyspace::SECRET_HEADS);
    let versions = View::new(b.clone(), keyspace::SECRET_VERSIONS);
    let txn = secrets.put(BTxn::new(), "v1/a", &1u32).unwrap();
    let txn = versions.put(txn, "v1/a/x", &2u32).unwrap();
    secrets.commit(txn).await.unwrap();
    assert_eq!(secrets.key("v1/a"), "sec/v1/a");
    assert_eq!(secrets.get::<u32>("v1/a").await.unwrap(), Some(1));
    // "sec/" and "secv/" share three letters; neither view's scan reaches the other.
    assert_eq!(secrets.scan_all::<u32>("").await.unwrap(), vec![("v1/a".to_owned(), 1)]);
    assert_eq!(versions.scan_keys("v1/", "", 10).await.unwrap(), vec!["v1/a/x".to_owned()]);
    assert!(!secrets.create("v1/a", &3u32).await.unwrap(), "create must not overwrite");
    assert_eq!(secrets.get::<u32>("v1/a").await.unwrap(), Some(1));
}

#[tokio::test]
async fn update_retries_lost_races_and_gives_up_with_busy() {
    let (_, b, _) = unsealed_memory().await;
    let b = Arc::new(b);
    let v = View::new(b.clone(), keyspace::VAULTS);
    // Forty concurrent increments: every one lands exactly once.
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let v = v.clone();
        tasks.push(tokio::spawn(async move {
            let mut retries = 0;
            loop {
                let r = v
                    .update(
                        "n",
                        || Error::new(ErrorKind::Conflict, "busy"),
                        |n: Option<u32>| {
                            let n = n.unwrap_or(0) + 1;
                            Ok(Change::Put(n, n))
                        },
                    )
                    .await;
                match r {
                    Ok(_) => return retries,
                    Err(e) if e.kind == ErrorKind::Conflict => retries += 1,
                    Err(e) => panic!("{e:?}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(v.get::<u32>("n").await.unwrap(), Some(40));
    // An attempt that always loses ends after CAS_RETRIES runs with the busy error.
    let runs = std::sync::atomic::AtomicUsize::new(0);
    let err = b
        .transact(
            || Error::new(ErrorKind::Conflict, "gave up"),
            || async {
                runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok((BTxn::new().absent("vault/n").put("vault/n", vec![1]), ()))
            },
        )
        .await
        .unwrap_err();
    assert_eq!((runs.into_inner(), err.message.as_str()), (CAS_RETRIES, "gave up"));
    // Keep writes nothing; Delete removes the record under its stamp.
    assert_eq!(v.update("n", || Error::internal("x"), |n: Option<u32>| Ok(Change::Keep(n))).await.unwrap(), Some(40));
    v.update("n", || Error::internal("x"), |_: Option<u32>| Ok(Change::<u32, ()>::Delete(()))).await.unwrap();
    assert_eq!(v.get::<u32>("n").await.unwrap(), None);
}
