//! Security properties of the running daemon: locking wipes secrets (seen
//! in the daemon's own memory), and unlocking restores service.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use common::*;
use fapi_agent::service::pb;
use tonic::Code;

const ISSUER: &str = "https://as.fapi-agent.test";

#[tokio::test(flavor = "multi_thread")]
async fn lock_wipes_and_unlock_restores() {
    let fx = Fixtures::new();
    let es = fx.credential("es", KeyType::P256, KeyFormat::Pkcs8Scrypt);
    let ed = fx.credential("ed", KeyType::Ed25519, KeyFormat::Pkcs12);
    let daemon = Daemon::start(&format!(
        "{}{}",
        es.toml("acme", ISSUER, ""),
        ed.toml("edco", ISSUER, "")
    ))
    .await;
    let mut client = daemon.client().await;
    let mut events = client
        .agent
        .watch_credentials(pb::WatchCredentialsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        events.message().await.unwrap().unwrap().kind(),
        pb::CredentialEventKind::Snapshot
    );
    sign(&mut client, "es").await.unwrap();

    let locked = client
        .admin
        .lock(pb::LockRequest {})
        .await
        .unwrap()
        .into_inner()
        .locked;
    assert_eq!(locked, ["ed", "es"]);
    for name in ["es", "ed"] {
        let e = sign(&mut client, name).await.unwrap_err();
        assert_eq!(e.code(), Code::FailedPrecondition);
        assert!(e.message().contains("locked"), "{}", e.message());
        let info = client
            .agent
            .get_credential(pb::GetCredentialRequest {
                credential: by_name(name),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(info.state(), pb::CredentialState::Locked);
        assert!(!info.key_decrypted);
        assert!(!info.kid.is_empty(), "public facts stay readable");
    }
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let e = events.message().await.unwrap().unwrap();
        kinds.push((e.kind(), e.credential.unwrap().name));
    }
    kinds.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        kinds,
        [
            (pb::CredentialEventKind::Locked, "ed".into()),
            (pb::CredentialEventKind::Locked, "es".into())
        ]
    );
    assert!(
        client
            .admin
            .status(pb::StatusRequest {})
            .await
            .unwrap()
            .into_inner()
            .locked
    );
    let e = client.admin.reload(pb::ReloadRequest {}).await.unwrap_err();
    assert!(e.message().contains("locked"));

    let r = client
        .admin
        .unlock(pb::UnlockRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.unlocked.len(), r.errors.len()), (2, 0), "{r:?}");
    let signed = sign(&mut client, "es").await.unwrap();
    verify_with_python(&signed.assertion, &es.cert, "ES256", ISSUER, "acme", &[]);
    sign(&mut client, "ed").await.unwrap();
    let e = events.message().await.unwrap().unwrap();
    assert_eq!(e.kind(), pb::CredentialEventKind::Unlocked);

    // SIGUSR1 locks too, as with ssh-agent.
    daemon.signal("USR1");
    let mut locked_by_signal = false;
    for _ in 0..100 {
        if sign(&mut client, "es")
            .await
            .is_err_and(|e| e.message().contains("locked"))
        {
            locked_by_signal = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(locked_by_signal);
    assert!(daemon.stderr().contains("SIGUSR1"));
}

/// Every readable mapping of `pid`, through /proc/PID/mem (needs root, as
/// the daemon is not dumpable).
fn memory_of(pid: u32) -> Vec<(String, Vec<u8>)> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem"))
        .expect("reading another process's memory needs root");
    let mut regions = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (range, perms) = (f.next().unwrap(), f.next().unwrap());
        let name = line.split_whitespace().nth(5).unwrap_or("");
        if !perms.starts_with('r') || name.starts_with("[vvar") || name == "[vsyscall]" {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let (start, end) = (
            u64::from_str_radix(start, 16).unwrap(),
            u64::from_str_radix(end, 16).unwrap(),
        );
        let mut buf = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_ok() && mem.read_exact(&mut buf).is_ok() {
            regions.push((line.to_owned(), buf));
        }
    }
    regions
}

fn contains(regions: &[(String, Vec<u8>)], needle: &[u8]) -> bool {
    let mut found = false;
    for (map, bytes) in regions {
        let hits: Vec<usize> = bytes
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i)
            .collect();
        if !hits.is_empty() {
            eprintln!("found in {map} at offsets {hits:?}");
            found = true;
        }
    }
    found
}

/// After Lock, neither the passphrase nor the private key is anywhere in
/// the daemon's memory; before it, both are (which proves the scan works).
#[tokio::test(flavor = "multi_thread")]
async fn after_lock_no_passphrase_or_key_bytes_remain_in_memory() {
    let fx = Fixtures::new();
    let es = fx.credential("memtest", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
    let plain =
        openssl::pkey::PKey::private_key_from_pem(&std::fs::read(&es.plain_key).unwrap()).unwrap();
    let scalar = plain
        .ec_key()
        .unwrap()
        .private_key()
        .to_vec_padded(32)
        .unwrap();
    // OpenSSL holds a bignum as little-endian 64-bit limbs: on x86-64 and
    // aarch64 that is the big-endian encoding reversed.
    let limbs: Vec<u8> = scalar.iter().rev().copied().collect();
    let daemon = Daemon::start(&es.toml("acme", ISSUER, "")).await;
    let mut client = daemon.client().await;
    for _ in 0..20 {
        sign(&mut client, "memtest").await.unwrap();
    }
    let before = memory_of(daemon.pid());
    assert!(
        contains(&before, es.passphrase.as_bytes()),
        "positive control: the held passphrase is found"
    );
    assert!(
        contains(&before, &scalar) || contains(&before, &limbs),
        "positive control: the decrypted key is found"
    );
    drop(before);

    client.admin.lock(pb::LockRequest {}).await.unwrap();
    let after = memory_of(daemon.pid());
    assert!(
        !contains(&after, es.passphrase.as_bytes()),
        "the passphrase survived Lock"
    );
    assert!(
        !contains(&after, &scalar),
        "private key bytes (big-endian) survived Lock"
    );
    assert!(
        !contains(&after, &limbs),
        "private key bignum survived Lock"
    );
}
