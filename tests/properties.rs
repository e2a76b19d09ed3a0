//! Property tests (bounded fuzzing, run in CI by `cargo test`): the config
//! parser, key and certificate loading, JWK/JWS building and request
//! validation never panic on hostile input, and keep their invariants.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use fapi_agent::config::{Config, MAX_ASSERTION_LIFETIME_SECS};
use fapi_agent::credential::{PublicFacts, parse_certificates};
use fapi_agent::jose::assertion::{RESERVED_CLAIMS, parse_extra_claims};
use fapi_agent::jose::{self, Alg, PublicJwk};
use fapi_agent::keys::software::KeyFile;
use fapi_agent::ops::decrypt::decode_base64;
use fapi_agent::secret::Passphrase;
use openssl::pkey::{PKey, Private};
use proptest::prelude::*;
use serde_json::{Value, json};

struct Material {
    encrypted_key: Vec<u8>,
    passphrase: String,
    cert: Vec<u8>,
    config: String,
    keys: Vec<(Alg, PKey<Private>)>,
}

/// Real inputs (made with the openssl CLI once) for the mutation tests.
fn material() -> &'static Material {
    static M: OnceLock<Material> = OnceLock::new();
    M.get_or_init(|| {
        let fx = Box::leak(Box::new(Fixtures::new()));
        let c = fx.credential("prop", KeyType::P256, KeyFormat::Pkcs8Pbkdf2);
        let keys = [
            (Alg::Es256, KeyType::P256),
            (Alg::Ps256, KeyType::Rsa2048),
            (Alg::EdDsa, KeyType::Ed25519),
        ]
        .iter()
        .map(|(alg, kt)| {
            let p = fx.plain_key(&format!("k{alg:?}"), *kt);
            (
                *alg,
                PKey::private_key_from_pem(&std::fs::read(p).unwrap()).unwrap(),
            )
        })
        .collect();
        Material {
            encrypted_key: std::fs::read(&c.key).unwrap(),
            passphrase: c.passphrase.clone(),
            cert: std::fs::read(&c.cert).unwrap(),
            config: c.toml(
                "prop",
                "https://as.example",
                "[credentials.prop.assertion]\nmax_lifetime_seconds = 120\n",
            ),
            keys,
        }
    })
}

fn mutate(bytes: &[u8], at: usize, with: u8) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if !b.is_empty() {
        let i = at % b.len();
        b[i] = with;
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn config_parser_never_panics(text in "\\PC{0,300}") {
        let _ = Config::parse(&text, Path::new("/etc/fapi-agent"));
    }

    #[test]
    fn mutated_configs_keep_their_invariants(at in 0usize..4096, with in any::<u8>()) {
        let text = String::from_utf8_lossy(&mutate(material().config.as_bytes(), at, with)).into_owned();
        if let Ok(cfg) = Config::parse(&text, Path::new("/etc/fapi-agent")) {
            for c in cfg.credentials.values() {
                prop_assert!(c.assertion.max_lifetime_seconds <= MAX_ASSERTION_LIFETIME_SECS);
                prop_assert!(c.assertion.default_lifetime_seconds <= c.assertion.max_lifetime_seconds);
                prop_assert!(!c.client_id.is_empty() && !c.issuer.is_empty());
                prop_assert!(c.passphrase.is_some() || c.allow_plaintext_key);
            }
        }
    }

    #[test]
    fn key_loading_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let pass = Passphrase::from_slice(b"some passphrase").unwrap();
        if let Ok(k) = KeyFile::from_bytes(Path::new("fuzz.key"), bytes) {
            let _ = k.decrypt(Some(&pass), "fuzz");
            let _ = k.decrypt(None, "fuzz");
        }
    }

    #[test]
    fn mutated_encrypted_keys_fail_cleanly_or_decrypt_to_a_key(at in 0usize..4096, with in any::<u8>()) {
        let m = material();
        let pass = Passphrase::from_slice(m.passphrase.as_bytes()).unwrap();
        if let Ok(k) = KeyFile::from_bytes(Path::new("fuzz.key"), mutate(&m.encrypted_key, at, with)) {
            match k.decrypt(Some(&pass), "fuzz") {
                Ok(d) => prop_assert!(d.key.bits() > 0),
                Err(e) => prop_assert!(!e.to_string().contains(&m.passphrase), "the passphrase leaked into an error"),
            }
        }
    }

    #[test]
    fn certificate_loading_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        if let Ok(chain) = parse_certificates(Path::new("fuzz.crt"), &bytes) {
            let _ = PublicFacts::from_chain(&chain);
        }
    }

    #[test]
    fn mutated_certificates_fail_cleanly(at in 0usize..4096, with in any::<u8>()) {
        let bytes = mutate(&material().cert, at, with);
        if let Ok(chain) = parse_certificates(Path::new("fuzz.crt"), &bytes)
            && let Ok(facts) = PublicFacts::from_chain(&chain)
        {
            prop_assert_eq!(facts.jwk.thumbprint().len(), 43, "a SHA-256 thumbprint, base64url");
        }
    }

    /// Any claims set signs into a JWS that OpenSSL verifies and whose
    /// payload decodes to exactly those claims, for every algorithm.
    #[test]
    fn jws_round_trips_for_any_claims(
        claims in proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{0,40}", 0..8),
        which in 0usize..3,
    ) {
        let (alg, key) = &material().keys[which];
        let claims = json!(claims);
        let header = json!({"alg": alg.as_str(), "kid": PublicJwk::new(key, *alg, &[]).unwrap().thumbprint()});
        let ready = fapi_agent::keys::memory::MemoryKey::from_key(key.clone()).unwrap().into_ready();
        let token = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(jose::sign_compact(&header, &claims, &ready, *alg))
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        prop_assert_eq!(parts.len(), 3);
        prop_assert!(!token.contains('='));
        let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        prop_assert_eq!(payload, claims);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        let ok = match alg {
            Alg::Es256 => {
                prop_assert_eq!(sig.len(), 64);
                let der = openssl::ecdsa::EcdsaSig::from_private_components(
                    openssl::bn::BigNum::from_slice(&sig[..32]).unwrap(),
                    openssl::bn::BigNum::from_slice(&sig[32..]).unwrap(),
                ).unwrap().to_der().unwrap();
                let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), key).unwrap();
                v.update(input.as_bytes()).unwrap();
                v.verify(&der).unwrap()
            }
            Alg::Ps256 => {
                let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), key).unwrap();
                v.set_rsa_padding(openssl::rsa::Padding::PKCS1_PSS).unwrap();
                v.set_rsa_pss_saltlen(openssl::sign::RsaPssSaltlen::custom(32)).unwrap();
                v.set_rsa_mgf1_md(openssl::hash::MessageDigest::sha256()).unwrap();
                v.update(input.as_bytes()).unwrap();
                v.verify(&sig).unwrap()
            }
            Alg::EdDsa => {
                let mut v = openssl::sign::Verifier::new_without_digest(key).unwrap();
                v.verify_oneshot(&sig, input.as_bytes()).unwrap()
            }
        };
        prop_assert!(ok, "{} signature does not verify", alg);
    }

    #[test]
    fn extra_claims_never_carry_reserved_claims(text in "\\PC{0,200}") {
        if let Ok(Some(map)) = parse_extra_claims(&text) {
            prop_assert!(map.keys().all(|k| !RESERVED_CLAIMS.contains(&k.as_str())));
        }
    }

    #[test]
    fn a_reserved_claim_is_always_refused(
        which in 0usize..7,
        value in "\\PC{0,20}",
        others in proptest::collection::btree_map("[a-z]{1,8}", "\\PC{0,20}", 0..4),
    ) {
        let mut obj = serde_json::Map::new();
        for (k, v) in others {
            obj.insert(k, json!(v));
        }
        obj.insert(RESERVED_CLAIMS[which].to_owned(), json!(value));
        prop_assert!(parse_extra_claims(&Value::Object(obj).to_string()).is_err());
    }

    #[test]
    fn ciphertext_base64_round_trips_with_any_line_breaks(
        bytes in proptest::collection::vec(any::<u8>(), 1..600),
        breaks in proptest::collection::vec(0usize..1000, 0..6),
        url_safe in any::<bool>(),
    ) {
        let mut text = if url_safe { URL_SAFE_NO_PAD.encode(&bytes) } else { STANDARD.encode(&bytes) };
        for b in breaks {
            let at = b % (text.len() + 1);
            text.insert(at, '\n');
        }
        prop_assert_eq!(decode_base64(&text).unwrap(), bytes);
    }

    #[test]
    fn base64_decoding_never_panics(text in "\\PC{0,300}") {
        let _ = decode_base64(&text);
    }
}
