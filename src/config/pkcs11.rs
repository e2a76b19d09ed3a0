//! A key on a PKCS#11 token (`pkcs11 = { … }` in a credential).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::PassphraseConfig;

/// `[credentials.NAME] pkcs11 = { module, token_label | token_serial,
/// key_label | key_id | uri, pin }`: the private key is an object on a
/// token and never leaves it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (shared library). It must be listed in
    /// `[agent] pkcs11_modules`, or it is not loaded.
    pub module: PathBuf,
    /// The token's label (CKA_LABEL of the token, as `pkcs11-tool -L` shows).
    pub token_label: Option<String>,
    /// The token's serial number.
    pub token_serial: Option<String>,
    /// The key's label (CKA_LABEL).
    pub key_label: Option<String>,
    /// The key's id (CKA_ID), hex.
    pub key_id: Option<String>,
    /// An RFC 7512 `pkcs11:` URI naming the token and key (instead of the
    /// four settings above).
    pub uri: Option<String>,
    /// Where the user PIN comes from: any passphrase source.
    pub pin: PassphraseConfig,
}

/// Which token and which key object, resolved from the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Target {
    /// Token label to match.
    pub token_label: Option<String>,
    /// Token serial to match.
    pub token_serial: Option<String>,
    /// Key label (CKA_LABEL).
    pub key_label: Option<String>,
    /// Key id (CKA_ID).
    pub key_id: Option<Vec<u8>>,
}

impl Pkcs11Target {
    /// How operators name the token in messages: `token "fapi"`.
    pub fn token_desc(&self) -> String {
        match (&self.token_label, &self.token_serial) {
            (Some(l), _) => format!("PKCS#11 token {l:?}"),
            (None, Some(s)) => format!("PKCS#11 token with serial {s:?}"),
            (None, None) => "the PKCS#11 token".into(),
        }
    }

    /// How operators name the key in messages.
    pub fn key_desc(&self) -> String {
        match (&self.key_label, &self.key_id) {
            (Some(l), _) => format!("key {l:?}"),
            (None, Some(id)) => format!("key id {}", hex::encode(id)),
            (None, None) => "the key".into(),
        }
    }
}

/// Whether `module` is on the allow-list `allowed`, comparing canonical
/// paths (a symlink to an allowed library is that library).
pub fn module_allowed(module: &Path, allowed: &[PathBuf]) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let m = canon(module);
    allowed.iter().any(|a| a == module || canon(a) == m)
}

/// Decodes `%XX` escapes (RFC 3986) of a `pkcs11:` URI attribute.
fn pct_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .ok_or_else(|| format!("truncated %-escape in {s:?}"))?;
            let v = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad %-escape in {s:?}"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Parses an RFC 7512 URI: the path attributes `token`, `serial`,
/// `object`, `id` and `type` (which must be `private` if given); the
/// others (`manufacturer`, `model`, `library-*`, `slot-*`) are accepted and
/// ignored. A PIN in the URI (`pin-value`, `pin-source`) is refused: the
/// PIN comes from the `pin` source.
pub fn parse_uri(uri: &str) -> Result<Pkcs11Target, String> {
    let rest = uri
        .strip_prefix("pkcs11:")
        .ok_or_else(|| format!("{uri:?} is not a pkcs11: URI (RFC 7512)"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut t = Pkcs11Target::default();
    let text = |v: &str| {
        pct_decode(v).and_then(|b| String::from_utf8(b).map_err(|_| format!("{v:?} is not UTF-8")))
    };
    for attr in path.split(';').filter(|a| !a.is_empty()) {
        let (k, v) = attr
            .split_once('=')
            .ok_or_else(|| format!("pkcs11 URI attribute {attr:?} has no '='"))?;
        match k {
            "token" => t.token_label = Some(text(v)?),
            "serial" => t.token_serial = Some(text(v)?),
            "object" => t.key_label = Some(text(v)?),
            "id" => t.key_id = Some(pct_decode(v)?),
            "type" if v == "private" => {}
            "type" => {
                return Err(format!(
                    "pkcs11 URI type={v}: the key must be the private key (type=private)"
                ));
            }
            "manufacturer"
            | "model"
            | "library-manufacturer"
            | "library-description"
            | "library-version"
            | "slot-description"
            | "slot-manufacturer"
            | "slot-id" => {}
            other => return Err(format!("unknown pkcs11 URI attribute {other:?}")),
        }
    }
    for q in query.split('&').filter(|a| !a.is_empty()) {
        let k = q.split_once('=').map_or(q, |(k, _)| k);
        match k {
            "pin-value" | "pin-source" => {
                return Err(
                    "a pkcs11 URI may not carry the PIN: give it as `pin = { source = … }`".into(),
                );
            }
            "module-name" | "module-path" => {
                return Err("give the module as `module = PATH`, not in the URI".into());
            }
            _ => {}
        }
    }
    Ok(t)
}

impl Pkcs11Config {
    /// The token and key this config names, checked: a token and a key
    /// selector, from either the settings or the URI.
    pub fn target(&self) -> Result<Pkcs11Target, String> {
        let direct = self.token_label.is_some()
            || self.token_serial.is_some()
            || self.key_label.is_some()
            || self.key_id.is_some();
        let t = match &self.uri {
            Some(_) if direct => {
                return Err(
                    "give either `uri` or token_label/token_serial and key_label/key_id, not both"
                        .into(),
                );
            }
            Some(uri) => parse_uri(uri)?,
            None => Pkcs11Target {
                token_label: self.token_label.clone(),
                token_serial: self.token_serial.clone(),
                key_label: self.key_label.clone(),
                key_id: self
                    .key_id
                    .as_ref()
                    .map(|h| {
                        hex::decode(h.trim_start_matches("0x"))
                            .map_err(|e| format!("key_id {h:?} is not hex: {e}"))
                    })
                    .transpose()?,
            },
        };
        if t.token_label.is_none() && t.token_serial.is_none() {
            return Err(
                "name the token: token_label or token_serial (or token=/serial= in the URI)".into(),
            );
        }
        if t.key_label.is_none() && t.key_id.is_none() {
            return Err("name the key: key_label or key_id (or object=/id= in the URI)".into());
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_attributes_decode() {
        let t =
            parse_uri("pkcs11:token=My%20Token;object=fapi%2Dkey;id=%01%A2;type=private").unwrap();
        assert_eq!(t.token_label.as_deref(), Some("My Token"));
        assert_eq!(t.key_label.as_deref(), Some("fapi-key"));
        assert_eq!(t.key_id.as_deref(), Some(&[0x01, 0xa2][..]));
        let t = parse_uri("pkcs11:serial=0123abcd;id=%07").unwrap();
        assert_eq!(t.token_serial.as_deref(), Some("0123abcd"));
    }

    fn parse(stanza: &str) -> Result<crate::config::Config, crate::config::ConfigError> {
        crate::config::Config::parse(
            &format!("[credentials.hsm]\nclient_id = \"c\"\nissuer = \"https://as\"\n{stanza}\n"),
            std::path::Path::new("/etc/fapi-agent"),
        )
    }

    const PIN: &str = "pin = { source = \"file\", path = \"hsm.pin\" }";

    #[test]
    fn config_takes_settings_or_a_uri_and_resolves_the_pin_path() {
        let c = parse(&format!(
            "pkcs11 = {{ module = \"/m.so\", token_label = \"t\", key_id = \"0a\", {PIN} }}"
        ))
        .unwrap();
        let p = c.credentials["hsm"].pkcs11.as_ref().unwrap();
        assert_eq!(p.target().unwrap().key_id, Some(vec![0x0a]));
        assert!(matches!(
            &p.pin,
            crate::config::PassphraseConfig::File { path, .. } if path.as_os_str() == "/etc/fapi-agent/hsm.pin"
        ));
        parse(&format!(
            "pkcs11 = {{ module = \"/m.so\", uri = \"pkcs11:serial=1;object=k\", {PIN} }}"
        ))
        .unwrap();
    }

    #[test]
    fn config_refusals_say_what_to_change() {
        let err = |stanza: String| parse(&stanza).unwrap_err().to_string();
        let e = err(format!(
            "key = \"k.pem\"\npkcs11 = {{ module = \"/m.so\", token_label = \"t\", key_label = \"k\", {PIN} }}"
        ));
        assert!(e.contains("`pkcs11` replaces `key`"), "{e}");
        let e = err(format!(
            "pkcs11 = {{ module = \"/m.so\", key_label = \"k\", {PIN} }}"
        ));
        assert!(e.contains("name the token"), "{e}");
        let e = err(format!(
            "pkcs11 = {{ module = \"/m.so\", token_label = \"t\", {PIN} }}"
        ));
        assert!(e.contains("name the key"), "{e}");
        let e = err(format!(
            "pkcs11 = {{ module = \"/m.so\", token_label = \"t\", uri = \"pkcs11:token=t;object=k\", {PIN} }}"
        ));
        assert!(e.contains("not both"), "{e}");
        let e = err(format!(
            "pkcs11 = {{ module = \"/m.so\", token_label = \"t\", key_id = \"xyz\", {PIN} }}"
        ));
        assert!(e.contains("not hex"), "{e}");
    }

    #[test]
    fn uri_refusals() {
        assert!(parse_uri("pkcs11:token=a;object=b?pin-value=1234").is_err());
        assert!(parse_uri("pkcs11:token=a;object=b;type=cert").is_err());
        assert!(parse_uri("pkcs11:token=a;object=b%2").is_err());
        assert!(parse_uri("pkcs12:token=a").is_err());
        assert!(parse_uri("pkcs11:token=a;bogus=1").is_err());
    }
}
