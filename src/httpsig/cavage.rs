//! Berlin Group NextGenPSD2 request signatures: draft-cavage-http-
//! signatures-10 as the Implementation Guidelines profile it
//! (docs/standards.md §9).
//!
//! The daemon computes `Digest: SHA-256=…` (RFC 3230) of the body, signs
//! `digest`, `x-request-id` and, when the request carries them, `psu-id`,
//! `psu-corporate-id`, `tpp-redirect-uri` (and `date` when given), with
//! RSASSA-PKCS1-v1_5 SHA-256 (`rsa-sha256`) by the credential's QSealC
//! key; `keyId` is `SN=<serial, hex>,CA=<issuer DN, RFC 4514>` of that
//! certificate, and `TPP-Signature-Certificate` its base64 DER.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::nid::Nid;
use openssl::x509::{X509, X509NameRef};

use super::{HttpSigError, check_value, legacy_digest};
use crate::jose::Alg;
use crate::keys::{ReadyKey, SignatureScheme};

/// Optional headers signed when the request carries them, in this order.
const WHEN_PRESENT: &[&str] = &["psu-id", "psu-corporate-id", "tpp-redirect-uri", "date"];

/// A request to sign: the values as they will be sent.
#[derive(Debug, Clone, Default)]
pub struct BgRequest {
    /// `X-Request-ID` (a UUID).
    pub x_request_id: String,
    /// Further headers: only those in the profile's signed set
    /// (`psu-id`, `psu-corporate-id`, `tpp-redirect-uri`, `date`).
    pub headers: Vec<(String, String)>,
    /// The exact body (may be empty: its digest is still signed).
    pub body: Vec<u8>,
}

/// The headers to add.
#[derive(Debug, Clone)]
pub struct BgSigned {
    /// `Digest`.
    pub digest: String,
    /// `Signature`.
    pub signature: String,
    /// `TPP-Signature-Certificate`.
    pub certificate: String,
    /// `X-Request-ID` as signed.
    pub x_request_id: String,
    /// The signed header names, in order.
    pub signed_headers: Vec<String>,
    /// The `keyId`.
    pub key_id: String,
}

impl BgRequest {
    /// Refuses what the profile does not sign or HTTP cannot carry.
    pub fn check(&self, max_body_bytes: usize) -> Result<(), HttpSigError> {
        if self.body.len() > max_body_bytes {
            return Err(HttpSigError::TooLarge {
                len: self.body.len(),
                max: max_body_bytes,
            });
        }
        if uuid::Uuid::try_parse(&self.x_request_id).is_err() {
            return Err(HttpSigError::Invalid(format!(
                "x_request_id {:?} is not a UUID (NextGenPSD2 requires one)",
                self.x_request_id
            )));
        }
        let mut seen = Vec::new();
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if !WHEN_PRESENT.contains(&lower.as_str()) {
                return Err(HttpSigError::Invalid(format!(
                    "header {name:?} is not signed by the Berlin Group profile: give only {}; \
                     digest, x-request-id and the certificate are the daemon's",
                    WHEN_PRESENT.join(", ")
                )));
            }
            if seen.contains(&lower) {
                return Err(HttpSigError::Invalid(format!(
                    "header {lower:?} is named twice"
                )));
            }
            check_value(&lower, value)?;
            seen.push(lower);
        }
        Ok(())
    }
}

/// `keyId` of a certificate: `SN=<serial, uppercase hex>,CA=<issuer>`.
pub fn key_id(cert: &X509) -> Result<String, HttpSigError> {
    let serial = cert
        .serial_number()
        .to_bn()
        .and_then(|b| b.to_hex_str().map(|s| s.to_string()))
        .map_err(|e| HttpSigError::Invalid(format!("the certificate's serial: {e}")))?;
    Ok(format!("SN={serial},CA={}", rfc4514(cert.issuer_name())?))
}

/// A distinguished name as RFC 4514 writes it: last RDN first, the
/// attribute short names of §3, values escaped per §2.4.
fn rfc4514(name: &X509NameRef) -> Result<String, HttpSigError> {
    let mut parts = Vec::new();
    for entry in name.entries() {
        let nid = entry.object().nid();
        let short = match nid {
            Nid::COMMONNAME => "CN".to_owned(),
            Nid::LOCALITYNAME => "L".to_owned(),
            Nid::STATEORPROVINCENAME => "ST".to_owned(),
            Nid::ORGANIZATIONNAME => "O".to_owned(),
            Nid::ORGANIZATIONALUNITNAME => "OU".to_owned(),
            Nid::COUNTRYNAME => "C".to_owned(),
            Nid::STREETADDRESS => "STREET".to_owned(),
            Nid::DOMAINCOMPONENT => "DC".to_owned(),
            Nid::USERID => "UID".to_owned(),
            _ => entry.object().to_string(),
        };
        let value = entry
            .data()
            .to_string()
            .map_err(|e| HttpSigError::Invalid(format!("the issuer name: {e}")))?;
        parts.push(format!("{short}={}", escape(&value)));
    }
    parts.reverse();
    Ok(parts.join(","))
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\')
            || (i == 0 && (c == ' ' || c == '#'))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The signing string (draft-cavage-10 §2.3): `name: value` lines.
pub fn signing_string(lines: &[(String, String)]) -> String {
    lines
        .iter()
        .map(|(n, v)| format!("{n}: {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Signs `req` with `key`, whose certificate is `leaf_der` (DER) with
/// the `keyId` [`key_id`] wrote for it.
pub async fn sign(
    req: &BgRequest,
    alg: Alg,
    key_id: &str,
    leaf_der: &[u8],
    max_body_bytes: usize,
    key: &ReadyKey,
) -> Result<BgSigned, HttpSigError> {
    if alg != Alg::Ps256 {
        return Err(HttpSigError::UnsuitableKey(
            "Berlin Group signatures are rsa-sha256: the credential's key is not RSA (use the \
             QSealC's RSA key)"
                .into(),
        ));
    }
    req.check(max_body_bytes)?;
    let digest = legacy_digest(&req.body);
    let mut lines = vec![
        ("digest".to_owned(), digest.clone()),
        ("x-request-id".to_owned(), req.x_request_id.clone()),
    ];
    for name in WHEN_PRESENT {
        if let Some((_, v)) = req
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            lines.push(((*name).to_owned(), v.trim().to_owned()));
        }
    }
    let text = signing_string(&lines);
    let raw = key
        .sign_off_workers(SignatureScheme::RsaPkcs1Sha256, text.into_bytes())
        .await?;
    let signed_headers: Vec<String> = lines.into_iter().map(|(n, _)| n).collect();
    // keyId's CA is a DN, which may hold '"': the parameter is quoted.
    let quoted_key_id = key_id.replace('\\', "\\\\").replace('"', "\\\"");
    Ok(BgSigned {
        signature: format!(
            "keyId=\"{quoted_key_id}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{}\"",
            signed_headers.join(" "),
            STANDARD.encode(raw)
        ),
        digest,
        certificate: STANDARD.encode(leaf_der),
        x_request_id: req.x_request_id.clone(),
        signed_headers,
        key_id: key_id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::x509::X509NameBuilder;

    #[test]
    fn key_id_is_rfc4514() {
        let mut b = X509NameBuilder::new().unwrap();
        b.append_entry_by_nid(Nid::COUNTRYNAME, "DE").unwrap();
        b.append_entry_by_nid(Nid::ORGANIZATIONNAME, "Test CA, Inc")
            .unwrap();
        b.append_entry_by_nid(Nid::COMMONNAME, "QSealC CA").unwrap();
        let name = b.build();
        assert_eq!(
            rfc4514(&name).unwrap(),
            "CN=QSealC CA,O=Test CA\\, Inc,C=DE"
        );
        assert_eq!(escape("#a "), "\\#a\\ ");
    }

    #[test]
    fn refusals() {
        let ok = BgRequest {
            x_request_id: "99391c7e-ad88-49ec-a2ad-99ddcb1f7721".into(),
            headers: vec![("PSU-ID".into(), "u1".into())],
            body: b"{}".to_vec(),
        };
        assert!(ok.check(10).is_ok());
        assert!(matches!(ok.check(1), Err(HttpSigError::TooLarge { .. })));
        for bad in [
            BgRequest {
                x_request_id: "1".into(),
                ..ok.clone()
            },
            BgRequest {
                headers: vec![("digest".into(), "x".into())],
                ..ok.clone()
            },
            BgRequest {
                headers: vec![("psu-id".into(), "a\nb".into())],
                ..ok.clone()
            },
        ] {
            assert!(matches!(bad.check(10), Err(HttpSigError::Invalid(_))));
        }
        assert_eq!(
            signing_string(&[
                ("digest".into(), "d".into()),
                ("x-request-id".into(), "i".into())
            ]),
            "digest: d\nx-request-id: i"
        );
    }
}
