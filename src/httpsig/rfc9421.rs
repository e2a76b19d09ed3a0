//! RFC 9421 HTTP message signatures with the FAPI 2.0 component set
//! (FAPI 2.0 Message Signing §5.6, docs/standards.md §9).
//!
//! A request signature covers `@method`, `@target-uri`, `authorization`
//! and `dpop` when the request carries them, `content-digest` (RFC 9530,
//! computed here from the body) when it has one, and any further header
//! the caller names; its parameters are `created`, `keyid` (the key's JWK
//! thumbprint) and `tag="fapi-2-request"`, all the daemon's. A response
//! signature (`tag="fapi-2-response"`) is verified against the bank's
//! public keys: it must cover `@status`, the request's `@method;req` and
//! `@target-uri;req` (and its `authorization;req`, `dpop;req` and
//! `content-digest;req` when the request had them), and `content-digest`
//! when the response has a body, which must match.
//!
//! The algorithm follows the key (RFC 9421 §3.3): RSA signs
//! `rsa-pss-sha512`, P-256 `ecdsa-p256-sha256` (raw `r‖s`), Ed25519
//! `ed25519`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, PKeyRef, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use sfv::{
    BareItem, Dictionary, InnerList, Item, KeyRef, ListEntry, ListSerializer, Parser, StringRef,
};

use super::{HttpSigError, check_value, content_digest};
use crate::jose::{Alg, jws_signature};
use crate::keys::{ReadyKey, SignatureScheme};

/// The tag of a FAPI 2.0 request signature.
pub const REQUEST_TAG: &str = "fapi-2-request";
/// The tag of a FAPI 2.0 response signature.
pub const RESPONSE_TAG: &str = "fapi-2-response";
/// The label the daemon signs under.
pub const LABEL: &str = "sig1";
/// How old a response signature's `created` may be.
pub const MAX_AGE_SECS: i64 = 300;
/// How far in the future `created` may lie (clock skew).
pub const SKEW_SECS: i64 = 60;

/// Header fields a caller may not name as extra covered components: the
/// daemon covers or computes them itself, or they carry the signature.
const RESERVED: &[&str] = &[
    "authorization",
    "dpop",
    "content-digest",
    "signature",
    "signature-input",
];

/// An RFC 9421 §3.3 algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpAlg {
    /// `rsa-pss-sha512`.
    RsaPssSha512,
    /// `ecdsa-p256-sha256`.
    EcdsaP256Sha256,
    /// `ed25519`.
    Ed25519,
}

impl HttpAlg {
    /// The algorithm a credential's key signs with.
    pub fn of_key(alg: Alg) -> Self {
        match alg {
            Alg::Ps256 => HttpAlg::RsaPssSha512,
            Alg::Es256 => HttpAlg::EcdsaP256Sha256,
            Alg::EdDsa => HttpAlg::Ed25519,
        }
    }

    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpAlg::RsaPssSha512 => "rsa-pss-sha512",
            HttpAlg::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            HttpAlg::Ed25519 => "ed25519",
        }
    }

    /// By registered name.
    pub fn of_name(name: &str) -> Option<Self> {
        match name {
            "rsa-pss-sha512" => Some(HttpAlg::RsaPssSha512),
            "ecdsa-p256-sha256" => Some(HttpAlg::EcdsaP256Sha256),
            "ed25519" => Some(HttpAlg::Ed25519),
            _ => None,
        }
    }

    /// The algorithm a public key verifies with.
    pub fn of_public(key: &PKeyRef<Public>) -> Option<Self> {
        match key.id() {
            Id::RSA | Id::RSA_PSS => Some(HttpAlg::RsaPssSha512),
            Id::EC => Some(HttpAlg::EcdsaP256Sha256),
            Id::ED25519 => Some(HttpAlg::Ed25519),
            _ => None,
        }
    }

    fn scheme(self) -> SignatureScheme {
        match self {
            HttpAlg::RsaPssSha512 => SignatureScheme::RsaPssSha512,
            HttpAlg::EcdsaP256Sha256 => SignatureScheme::EcdsaP256Sha256,
            HttpAlg::Ed25519 => SignatureScheme::Ed25519,
        }
    }
}

/// One covered component: its name (`@method`, or a lowercase field
/// name) and whether it is taken from the request (`;req`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `@method`, `@target-uri`, `@status`, … or a field name.
    pub name: String,
    /// The `req` flag (a response signature covering the request).
    pub req: bool,
}

impl Component {
    fn new(name: &str, req: bool) -> Self {
        Component {
            name: name.to_owned(),
            req,
        }
    }

    /// The serialized component identifier (`"@method";req`).
    pub fn id(&self) -> String {
        if self.req {
            format!("\"{}\";req", self.name)
        } else {
            format!("\"{}\"", self.name)
        }
    }
}

/// A request as signed: the exact values a server will see.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    /// The method, uppercase (`POST`).
    pub method: String,
    /// The absolute target URI as sent.
    pub target_uri: String,
    /// The `Authorization` value, if the request carries one.
    pub authorization: Option<String>,
    /// The `DPoP` proof, if the request carries one.
    pub dpop: Option<String>,
    /// Further header fields to cover, in order (lowercase names).
    pub headers: Vec<(String, String)>,
    /// The exact body (empty: none).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The value a field component takes in this request.
    fn field(&self, name: &str) -> Option<String> {
        match name {
            "authorization" => self.authorization.clone(),
            "dpop" => self.dpop.clone(),
            "content-digest" => (!self.body.is_empty()).then(|| content_digest(&self.body)),
            _ => self
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned()),
        }
    }

    /// The FAPI 2.0 component set for this request, then the extras.
    pub fn components(&self) -> Vec<Component> {
        let mut c = vec![
            Component::new("@method", false),
            Component::new("@target-uri", false),
        ];
        if self.authorization.is_some() {
            c.push(Component::new("authorization", false));
        }
        if self.dpop.is_some() {
            c.push(Component::new("dpop", false));
        }
        if !self.body.is_empty() {
            c.push(Component::new("content-digest", false));
        }
        c.extend(
            self.headers
                .iter()
                .map(|(n, _)| Component::new(&n.to_ascii_lowercase(), false)),
        );
        c
    }

    /// Refuses what cannot be signed as given; the target URI in the form
    /// signed.
    pub fn check(&self, max_body_bytes: usize) -> Result<String, HttpSigError> {
        if self.body.len() > max_body_bytes {
            return Err(HttpSigError::TooLarge {
                len: self.body.len(),
                max: max_body_bytes,
            });
        }
        if self.method.is_empty()
            || !self
                .method
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'-')
        {
            return Err(HttpSigError::Invalid(format!(
                "method {:?} is not an uppercase HTTP method token",
                self.method
            )));
        }
        let url = url::Url::parse(&self.target_uri).map_err(|e| {
            HttpSigError::Invalid(format!(
                "target_uri {:?} is not an absolute URI: {e}",
                self.target_uri
            ))
        })?;
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return Err(HttpSigError::Invalid(format!(
                "target_uri {:?} must be an http(s) URI with a host",
                self.target_uri
            )));
        }
        if url.fragment().is_some() {
            return Err(HttpSigError::Invalid(
                "target_uri carries a fragment, which is never sent".into(),
            ));
        }
        for (name, value) in self
            .authorization
            .iter()
            .map(|v| ("authorization", v))
            .chain(self.dpop.iter().map(|v| ("dpop", v)))
        {
            check_value(name, value)?;
        }
        let mut seen = Vec::new();
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if lower.is_empty()
                || !lower
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
            {
                return Err(HttpSigError::Invalid(format!(
                    "header name {name:?} is not a field name (letters, digits, '-', '_', '.')"
                )));
            }
            if RESERVED.contains(&lower.as_str()) {
                return Err(HttpSigError::Invalid(format!(
                    "header {lower:?} is the daemon's to cover or compute: give authorization \
                     and dpop in their own fields, the body for content-digest"
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
        Ok(url.to_string())
    }
}

/// A signature made: the three fields to add to the request.
#[derive(Debug, Clone)]
pub struct Signed {
    /// `Signature-Input` (`sig1=(…);created=…;keyid=…;tag=…`).
    pub signature_input: String,
    /// `Signature` (`sig1=:BASE64:`).
    pub signature: String,
    /// `Content-Digest`, when the request has a body.
    pub content_digest: Option<String>,
    /// The components covered, serialized.
    pub covered: Vec<String>,
    /// `created`.
    pub created: i64,
    /// The algorithm.
    pub alg: HttpAlg,
    /// The target URI as signed.
    pub target_uri: String,
}

/// The signature parameters: `("@method" …);created=…;keyid="…";tag="…"`.
pub fn signature_params(
    components: &[Component],
    created: i64,
    keyid: &str,
    tag: &str,
) -> Result<String, HttpSigError> {
    let item = |name: &str, req: bool| -> Result<Item, HttpSigError> {
        let s = sfv::String::from_string(name.to_owned())
            .map_err(|(e, _)| HttpSigError::Invalid(format!("component {name:?}: {e}")))?;
        let mut params = sfv::Parameters::new();
        if req {
            params.insert(KeyRef::constant("req").to_owned(), BareItem::Boolean(true));
        }
        Ok(Item::with_params(BareItem::String(s), params))
    };
    let items = components
        .iter()
        .map(|c| item(&c.name, c.req))
        .collect::<Result<Vec<_>, _>>()?;
    let sf_string = |v: &str| {
        StringRef::from_str(v).map(ToOwned::to_owned).map_err(|e| {
            HttpSigError::Invalid(format!("{v:?} cannot be a signature parameter: {e}"))
        })
    };
    let mut params = sfv::Parameters::new();
    params.insert(
        KeyRef::constant("created").to_owned(),
        BareItem::Integer(
            sfv::Integer::try_from(created)
                .map_err(|e| HttpSigError::Invalid(format!("created {created}: {e}")))?,
        ),
    );
    params.insert(
        KeyRef::constant("keyid").to_owned(),
        BareItem::String(sf_string(keyid)?),
    );
    params.insert(
        KeyRef::constant("tag").to_owned(),
        BareItem::String(sf_string(tag)?),
    );
    serialize_inner(&InnerList::with_params(items, params))
}

fn serialize_inner(list: &InnerList) -> Result<String, HttpSigError> {
    let mut ser = ListSerializer::new();
    ser.members([&ListEntry::InnerList(list.clone())]);
    ser.finish()
        .ok_or_else(|| HttpSigError::Invalid("an empty signature parameter list".into()))
}

/// The signature base (RFC 9421 §2.5): one `"id": value` line per
/// component, then `"@signature-params": …`, joined by LF.
pub fn signature_base(lines: &[(String, String)], params: &str) -> String {
    let mut base = String::new();
    for (id, value) in lines {
        base.push_str(id);
        base.push_str(": ");
        base.push_str(value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(params);
    base
}

/// Derived components of a request (RFC 9421 §2.2).
fn derived(req: &HttpRequest, target: &url::Url, name: &str) -> Option<String> {
    match name {
        "@method" => Some(req.method.clone()),
        "@target-uri" => Some(target.to_string()),
        "@authority" => target.host_str().map(|h| match target.port() {
            Some(p) => format!("{}:{p}", h.to_ascii_lowercase()),
            None => h.to_ascii_lowercase(),
        }),
        "@scheme" => Some(target.scheme().to_owned()),
        "@path" => Some(target.path().to_owned()),
        "@query" => Some(format!("?{}", target.query().unwrap_or(""))),
        "@request-target" => Some(match target.query() {
            Some(q) => format!("{}?{q}", target.path()),
            None => target.path().to_owned(),
        }),
        _ => None,
    }
}

/// The value of a request component, derived or a field.
fn request_value(req: &HttpRequest, target: &url::Url, name: &str) -> Option<String> {
    if name.starts_with('@') {
        derived(req, target, name)
    } else {
        req.field(name)
    }
}

/// Signs `req` for a FAPI 2.0 resource server with `key` under `keyid`.
pub async fn sign(
    req: &HttpRequest,
    alg: Alg,
    keyid: &str,
    max_body_bytes: usize,
    key: &ReadyKey,
) -> Result<Signed, HttpSigError> {
    let target_uri = req.check(max_body_bytes)?;
    let target = url::Url::parse(&target_uri)
        .map_err(|e| HttpSigError::Invalid(format!("target_uri: {e}")))?;
    let components = req.components();
    let mut lines = Vec::with_capacity(components.len());
    for c in &components {
        let value = request_value(req, &target, &c.name)
            .ok_or_else(|| HttpSigError::Invalid(format!("component {} has no value", c.id())))?;
        lines.push((c.id(), value));
    }
    let created = crate::now_unix();
    let params = signature_params(&components, created, keyid, REQUEST_TAG)?;
    let base = signature_base(&lines, &params);
    let http_alg = HttpAlg::of_key(alg);
    let raw = key
        .sign_off_workers(http_alg.scheme(), base.into_bytes())
        .await?;
    let raw = match http_alg {
        HttpAlg::EcdsaP256Sha256 => {
            jws_signature(Alg::Es256, raw).map_err(|e| HttpSigError::Key(e.into()))?
        }
        HttpAlg::RsaPssSha512 | HttpAlg::Ed25519 => raw,
    };
    Ok(Signed {
        signature_input: format!("{LABEL}={params}"),
        signature: format!("{LABEL}=:{}:", STANDARD.encode(raw)),
        content_digest: (!req.body.is_empty()).then(|| content_digest(&req.body)),
        covered: components.iter().map(Component::id).collect(),
        created,
        alg: http_alg,
        target_uri,
    })
}

/// A response to verify, and the request it answers.
#[derive(Debug, Clone)]
pub struct HttpResponse<'a> {
    /// The status code.
    pub status: u16,
    /// Its header fields (names in any case; repeated names allowed).
    pub headers: &'a [(String, String)],
    /// The exact body.
    pub body: &'a [u8],
    /// The request as it was sent (and signed).
    pub request: &'a HttpRequest,
}

impl HttpResponse<'_> {
    fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// One public key a response may be signed with.
#[derive(Debug, Clone)]
pub struct ResponseKey {
    /// Its `keyid` (the JWK's `kid`, or its thumbprint).
    pub keyids: Vec<String>,
    /// The key.
    pub key: PKey<Public>,
}

/// What a verified response signature covered.
#[derive(Debug, Clone)]
pub struct VerifiedResponse {
    /// The label verified.
    pub label: String,
    /// The `keyid`.
    pub keyid: String,
    /// `created`.
    pub created: i64,
    /// The components covered, serialized.
    pub covered: Vec<String>,
}

fn unverified(m: impl Into<String>) -> HttpSigError {
    HttpSigError::Unverified(m.into())
}

/// Verifies the FAPI 2.0 response signature of `resp` with one of
/// `keys`, at `now`.
pub fn verify_response(
    resp: &HttpResponse<'_>,
    keys: &[ResponseKey],
    now: i64,
) -> Result<VerifiedResponse, HttpSigError> {
    // The caller's own request is checked before the response: a bad one
    // is the caller's error, not an unverified signature.
    let target = url::Url::parse(&resp.request.target_uri)
        .map_err(|e| HttpSigError::Invalid(format!("the request's target_uri: {e}")))?;
    let input = resp
        .header("signature-input")
        .ok_or_else(|| unverified("no Signature-Input header"))?;
    let signature = resp
        .header("signature")
        .ok_or_else(|| unverified("no Signature header"))?;
    let inputs: Dictionary = Parser::new(&input)
        .parse()
        .map_err(|e| unverified(format!("Signature-Input is not a dictionary: {e}")))?;
    let signatures: Dictionary = Parser::new(&signature)
        .parse()
        .map_err(|e| unverified(format!("Signature is not a dictionary: {e}")))?;
    let tagged: Vec<(&sfv::Key, &InnerList)> = inputs
        .iter()
        .filter_map(|(label, entry)| match entry {
            ListEntry::InnerList(l) => Some((label, l)),
            ListEntry::Item(_) => None,
        })
        .filter(|(_, l)| param_str(&l.params, "tag").as_deref() == Some(RESPONSE_TAG))
        .collect();
    let [(label, list)] = tagged.as_slice() else {
        return Err(unverified(format!(
            "{} signatures are tagged {RESPONSE_TAG:?} (labels {:?}); exactly one must be",
            tagged.len(),
            inputs.keys().map(|k| k.as_str()).collect::<Vec<_>>()
        )));
    };
    let raw = match signatures.get(label.as_str()) {
        Some(ListEntry::Item(Item {
            bare_item: BareItem::ByteSequence(b),
            ..
        })) => b.clone(),
        _ => {
            return Err(unverified(format!(
                "Signature has no byte sequence for label {:?}",
                label.as_str()
            )));
        }
    };
    let created = match list.params.get("created") {
        Some(BareItem::Integer(i)) => i64::from(*i),
        _ => return Err(unverified("the signature has no integer created parameter")),
    };
    if created > now + SKEW_SECS {
        return Err(unverified(format!(
            "created is {} s in the future",
            created - now
        )));
    }
    if now - created > MAX_AGE_SECS {
        return Err(unverified(format!(
            "created is {} s old, over {MAX_AGE_SECS} s",
            now - created
        )));
    }
    if let Some(BareItem::Integer(exp)) = list.params.get("expires")
        && i64::from(*exp) < now
    {
        return Err(unverified("the signature has expired"));
    }
    let keyid = param_str(&list.params, "keyid")
        .ok_or_else(|| unverified("the signature has no keyid parameter"))?;
    let key = keys
        .iter()
        .find(|k| k.keyids.contains(&keyid))
        .ok_or_else(|| unverified(format!("keyid {keyid:?} is none of the configured keys")))?;
    let alg = HttpAlg::of_public(&key.key)
        .ok_or_else(|| unverified(format!("key {keyid:?} is of no RFC 9421 algorithm")))?;
    if let Some(name) = param_str(&list.params, "alg")
        && HttpAlg::of_name(&name) != Some(alg)
    {
        return Err(unverified(format!(
            "alg {name:?} is not the key's {}",
            alg.as_str()
        )));
    }

    let mut components = Vec::with_capacity(list.items.len());
    for item in &list.items {
        let BareItem::String(name) = &item.bare_item else {
            return Err(unverified("a covered component is not a string"));
        };
        let mut req = false;
        for (k, v) in &item.params {
            match (k.as_str(), v) {
                ("req", BareItem::Boolean(true)) => req = true,
                _ => {
                    return Err(unverified(format!(
                        "component {:?} has parameter {:?}, which is not supported",
                        name.as_str(),
                        k.as_str()
                    )));
                }
            }
        }
        components.push(Component::new(name.as_str(), req));
    }
    let has = |name: &str, req: bool| components.iter().any(|c| c.name == name && c.req == req);
    let request = resp.request;
    let mut need = vec![("@status", false), ("@method", true), ("@target-uri", true)];
    if request.authorization.is_some() {
        need.push(("authorization", true));
    }
    if request.dpop.is_some() {
        need.push(("dpop", true));
    }
    if !request.body.is_empty() {
        need.push(("content-digest", true));
    }
    if !resp.body.is_empty() {
        need.push(("content-digest", false));
    }
    let missing: Vec<String> = need
        .iter()
        .filter(|(n, r)| !has(n, *r))
        .map(|(n, r)| Component::new(n, *r).id())
        .collect();
    if !missing.is_empty() {
        return Err(unverified(format!(
            "FAPI 2.0 response signatures cover {}: not covered",
            missing.join(" ")
        )));
    }
    if !resp.body.is_empty() {
        check_response_digest(resp)?;
    }

    let mut lines = Vec::with_capacity(components.len());
    for c in &components {
        let value = if c.req {
            request_value(request, &target, &c.name)
        } else if c.name == "@status" {
            Some(resp.status.to_string())
        } else if c.name.starts_with('@') {
            None
        } else {
            resp.header(&c.name)
        }
        .ok_or_else(|| unverified(format!("covered component {} has no value", c.id())))?;
        lines.push((c.id(), value));
    }
    let params = serialize_inner(list).map_err(|e| unverified(e.to_string()))?;
    let base = signature_base(&lines, &params);
    if !verify_raw(alg, &key.key, base.as_bytes(), &raw)? {
        return Err(unverified(format!(
            "the {} signature by {keyid:?} over ({}) does not verify",
            alg.as_str(),
            components
                .iter()
                .map(Component::id)
                .collect::<Vec<_>>()
                .join(" ")
        )));
    }
    Ok(VerifiedResponse {
        label: label.as_str().to_owned(),
        keyid,
        created,
        covered: components.iter().map(Component::id).collect(),
    })
}

fn param_str(params: &sfv::Parameters, name: &str) -> Option<String> {
    match params.get(name) {
        Some(BareItem::String(s)) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// The response's `Content-Digest` must hold a sha-256 or sha-512 member
/// matching its body.
fn check_response_digest(resp: &HttpResponse<'_>) -> Result<(), HttpSigError> {
    let value = resp
        .header("content-digest")
        .ok_or_else(|| unverified("the response has a body but no Content-Digest"))?;
    let dict: Dictionary = Parser::new(&value)
        .parse()
        .map_err(|e| unverified(format!("Content-Digest is not a dictionary: {e}")))?;
    let mut checked = false;
    for (alg, entry) in &dict {
        let ListEntry::Item(Item {
            bare_item: BareItem::ByteSequence(got),
            ..
        }) = entry
        else {
            return Err(unverified(format!(
                "Content-Digest member {:?} is not a byte sequence",
                alg.as_str()
            )));
        };
        let want = match alg.as_str() {
            "sha-256" => openssl::sha::sha256(resp.body).to_vec(),
            "sha-512" => openssl::sha::sha512(resp.body).to_vec(),
            _ => continue,
        };
        if *got != want {
            return Err(unverified(format!(
                "Content-Digest {} does not match the {}-byte body",
                alg.as_str(),
                resp.body.len()
            )));
        }
        checked = true;
    }
    if checked {
        Ok(())
    } else {
        Err(unverified(
            "Content-Digest has no sha-256 or sha-512 member",
        ))
    }
}

/// Verifies an RFC 9421 signature value (ECDSA raw `r‖s`).
fn verify_raw(
    alg: HttpAlg,
    key: &PKeyRef<Public>,
    data: &[u8],
    sig: &[u8],
) -> Result<bool, HttpSigError> {
    let fail = |e: openssl::error::ErrorStack| unverified(format!("OpenSSL: {e}"));
    match alg {
        HttpAlg::RsaPssSha512 => {
            let mut v = Verifier::new(MessageDigest::sha512(), key).map_err(fail)?;
            v.set_rsa_padding(Padding::PKCS1_PSS).map_err(fail)?;
            v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                .map_err(fail)?;
            v.set_rsa_mgf1_md(MessageDigest::sha512()).map_err(fail)?;
            v.update(data).map_err(fail)?;
            Ok(v.verify(sig).unwrap_or(false))
        }
        HttpAlg::EcdsaP256Sha256 => {
            if sig.len() != 64 {
                return Ok(false);
            }
            let r = BigNum::from_slice(&sig[..32]).map_err(fail)?;
            let s = BigNum::from_slice(&sig[32..]).map_err(fail)?;
            let der = EcdsaSig::from_private_components(r, s)
                .and_then(|s| s.to_der())
                .map_err(fail)?;
            let mut v = Verifier::new(MessageDigest::sha256(), key).map_err(fail)?;
            v.update(data).map_err(fail)?;
            Ok(v.verify(&der).unwrap_or(false))
        }
        HttpAlg::Ed25519 => {
            let mut v = Verifier::new_without_digest(key).map_err(fail)?;
            Ok(v.verify_oneshot(sig, data).unwrap_or(false))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkey::Private;
    use serde_json::Value;

    fn vectors() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/rfc9421_vectors.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn vector_request(v: &Value) -> HttpRequest {
        let m = &v["messages"]["test-request"];
        HttpRequest {
            method: m["method"].as_str().unwrap().into(),
            target_uri: m["url"].as_str().unwrap().into(),
            headers: m["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_ascii_lowercase(),
                        p[1].as_str().unwrap().into(),
                    )
                })
                .collect(),
            ..HttpRequest::default()
        }
    }

    /// Appendix B.2.6 (Ed25519 is deterministic): the signature base and
    /// Signature-Input built here and the signature made through the key
    /// handle are the RFC's, byte for byte.
    #[test]
    fn appendix_b26_exact() {
        let v = vectors();
        let case = &v["cases"]["B.2.6"];
        let req = vector_request(&v);
        let target = url::Url::parse(&req.target_uri).unwrap();
        let components: Vec<Component> = case["covered_components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Component::new(c.as_str().unwrap().trim_matches('"'), false))
            .collect();
        let lines: Vec<(String, String)> = components
            .iter()
            .map(|c| (c.id(), request_value(&req, &target, &c.name).unwrap()))
            .collect();
        // B.2.6 has no tag: build its parameters the same way, without one.
        let mut ser = ListSerializer::new();
        {
            let mut il = ser.inner_list();
            for c in &components {
                let _ = il.bare_item(StringRef::from_str(&c.name).unwrap());
            }
            let _ = il
                .finish()
                .parameter(
                    KeyRef::constant("created"),
                    sfv::Integer::constant(1_618_884_473),
                )
                .parameter(
                    KeyRef::constant("keyid"),
                    StringRef::from_str("test-key-ed25519").unwrap(),
                );
        }
        let params = ser.finish().unwrap();
        let base = signature_base(&lines, &params);
        assert_eq!(base, case["signature_base"].as_str().unwrap());
        assert_eq!(
            format!("sig-b26={params}"),
            case["signature_input"].as_str().unwrap()
        );
        let pem = v["keys"]["test-key-ed25519"]["private_pem"]
            .as_str()
            .unwrap();
        let key: PKey<Private> = PKey::private_key_from_pem(pem.as_bytes()).unwrap();
        let sig = openssl::sign::Signer::new_without_digest(&key)
            .unwrap()
            .sign_oneshot_to_vec(base.as_bytes())
            .unwrap();
        assert_eq!(
            STANDARD.encode(sig),
            case["signature_b64"].as_str().unwrap()
        );
    }

    /// Appendix B.2.1–B.2.3 (RSA-PSS) and B.2.4 (ECDSA): the RFC's
    /// signatures verify over the RFC's bases, and fail one byte off.
    #[test]
    fn appendix_b_signatures_verify() {
        let v = vectors();
        for (case, key_name, alg) in [
            ("B.2.1", "test-key-rsa-pss", HttpAlg::RsaPssSha512),
            ("B.2.2", "test-key-rsa-pss", HttpAlg::RsaPssSha512),
            ("B.2.3", "test-key-rsa-pss", HttpAlg::RsaPssSha512),
            ("B.2.4", "test-key-ecc-p256", HttpAlg::EcdsaP256Sha256),
        ] {
            let c = &v["cases"][case];
            let pem = v["keys"][key_name]["public_pem"].as_str().unwrap();
            let key = PKey::public_key_from_pem(pem.as_bytes())
                .or_else(|_| {
                    openssl::rsa::Rsa::public_key_from_pem_pkcs1(pem.as_bytes())
                        .and_then(PKey::from_rsa)
                })
                .unwrap();
            let sig = STANDARD
                .decode(c["signature_b64"].as_str().unwrap())
                .unwrap();
            let base = c["signature_base"].as_str().unwrap();
            assert!(
                verify_raw(alg, &key, base.as_bytes(), &sig).unwrap(),
                "{case}"
            );
            let mut off = base.as_bytes().to_vec();
            off[0] ^= 1;
            assert!(!verify_raw(alg, &key, &off, &sig).unwrap(), "{case} off");
        }
    }

    #[test]
    fn fapi_components_and_refusals() {
        let req = HttpRequest {
            method: "POST".into(),
            target_uri: "https://bank.example/payments?x=1".into(),
            authorization: Some("DPoP t".into()),
            dpop: Some("p".into()),
            headers: vec![("x-fapi-interaction-id".into(), "i".into())],
            body: b"{}".to_vec(),
        };
        let ids: Vec<String> = req.components().iter().map(Component::id).collect();
        assert_eq!(
            ids,
            [
                "\"@method\"",
                "\"@target-uri\"",
                "\"authorization\"",
                "\"dpop\"",
                "\"content-digest\"",
                "\"x-fapi-interaction-id\""
            ]
        );
        assert!(req.check(10).is_ok());
        assert!(matches!(req.check(1), Err(HttpSigError::TooLarge { .. })));
        for bad in ["signature-input", "content-digest", "Authorization"] {
            let r = HttpRequest {
                headers: vec![(bad.into(), "v".into())],
                ..req.clone()
            };
            assert!(
                matches!(r.check(10), Err(HttpSigError::Invalid(_))),
                "{bad}"
            );
        }
        let r = HttpRequest {
            target_uri: "/relative".into(),
            ..req.clone()
        };
        assert!(r.check(10).is_err());
        let p = signature_params(&req.components()[..2], 5, "k", REQUEST_TAG).unwrap();
        assert_eq!(
            p,
            "(\"@method\" \"@target-uri\");created=5;keyid=\"k\";tag=\"fapi-2-request\""
        );
        let p = signature_params(&[Component::new("@method", true)], 5, "k", RESPONSE_TAG).unwrap();
        assert!(p.starts_with("(\"@method\";req);"), "{p}");
    }
}
