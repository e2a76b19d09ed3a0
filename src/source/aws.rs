//! The `aws-secrets-manager` source: AWS Secrets Manager through the
//! official AWS SDK for Rust (cargo feature `aws-secrets-manager`).
//!
//! Credentials and region come from the standard AWS chain (environment,
//! profile, web identity, ECS/EC2 metadata); `region` and `endpoint_url` in
//! the config override them. `version_stage` (`AWSCURRENT`, `AWSPREVIOUS`)
//! lets a rotation pick the old or new passphrase; `json_key` selects one
//! value of a JSON secret string.

use std::sync::OnceLock;

use zeroize::Zeroizing;

use super::{PassphraseSource, SourceError};
use crate::secret::Passphrase;

/// Settings of one AWS secret.
#[derive(Debug, Clone)]
pub struct AwsSecret {
    /// Secret name or ARN.
    pub secret_id: String,
    /// Version stage.
    pub version_stage: Option<String>,
    /// Version id.
    pub version_id: Option<String>,
    /// Key within a JSON secret string.
    pub json_key: Option<String>,
    /// Region override.
    pub region: Option<String>,
    /// Endpoint override.
    pub endpoint_url: Option<String>,
}

/// Fetches one secret value at every fetch (the SDK client is made once).
#[derive(Debug)]
pub struct AwsSource {
    secret: AwsSecret,
    client: OnceLock<aws_sdk_secretsmanager::Client>,
}

impl AwsSource {
    /// A source for `secret`.
    pub fn new(secret: AwsSecret) -> Self {
        Self {
            secret,
            client: OnceLock::new(),
        }
    }

    async fn client(&self) -> aws_sdk_secretsmanager::Client {
        if let Some(c) = self.client.get() {
            return c.clone();
        }
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &self.secret.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(url) = &self.secret.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        let client = aws_sdk_secretsmanager::Client::new(&loader.load().await);
        self.client.get_or_init(|| client).clone()
    }

    async fn fetch_async(&self) -> Result<Passphrase, SourceError> {
        let s = &self.secret;
        let out = self
            .client()
            .await
            .get_secret_value()
            .secret_id(&s.secret_id)
            .set_version_stage(s.version_stage.clone())
            .set_version_id(s.version_id.clone())
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_secretsmanager::error::DisplayErrorContext;
                SourceError::unavailable(self, DisplayErrorContext(&e))
            })?;
        let text = match (out.secret_string, out.secret_binary) {
            (Some(t), _) => Zeroizing::new(t),
            (None, Some(b)) => Zeroizing::new(String::from_utf8(b.into_inner()).map_err(|_| {
                SourceError::refused(self, "the secret is binary and not UTF-8 text")
            })?),
            (None, None) => return Err(SourceError::refused(self, "the secret has no value")),
        };
        let value: Zeroizing<String> = match &s.json_key {
            None => text,
            Some(key) => {
                let json = serde_json::from_str(&text).map(WipedJson).map_err(|_| {
                    // The parser's message may quote the secret: not shown.
                    SourceError::refused(
                        self,
                        "json_key is set but the secret string is not a JSON object",
                    )
                })?;
                match json.0.get(key) {
                    Some(serde_json::Value::String(v)) => Zeroizing::new(v.clone()),
                    Some(_) => {
                        return Err(SourceError::refused(
                            self,
                            format_args!("the value of {key:?} is not a string"),
                        ));
                    }
                    None => {
                        return Err(SourceError::refused(
                            self,
                            format_args!("the secret's JSON has no key {key:?}"),
                        ));
                    }
                }
            }
        };
        Passphrase::from_slice(value.as_bytes()).map_err(|e| SourceError::invalid_value(self, e))
    }
}

/// A parsed secret string whose string values (the other fields of the
/// secret among them) are wiped when it is dropped.
struct WipedJson(serde_json::Value);

impl Drop for WipedJson {
    fn drop(&mut self) {
        fn wipe(v: &mut serde_json::Value) {
            use zeroize::Zeroize;
            match v {
                serde_json::Value::String(s) => s.zeroize(),
                serde_json::Value::Array(a) => a.iter_mut().for_each(wipe),
                serde_json::Value::Object(m) => m.values_mut().for_each(wipe),
                _ => {}
            }
        }
        wipe(&mut self.0);
    }
}

impl PassphraseSource for AwsSource {
    fn kind(&self) -> &'static str {
        "aws-secrets-manager"
    }

    fn describe(&self) -> String {
        let s = &self.secret;
        let mut d = format!("aws-secrets-manager {:?}", s.secret_id);
        if let Some(stage) = &s.version_stage {
            d.push_str(&format!(" stage {stage}"));
        }
        if let Some(id) = &s.version_id {
            d.push_str(&format!(" version {id}"));
        }
        if let Some(key) = &s.json_key {
            d.push_str(&format!(" key {key:?}"));
        }
        d
    }

    fn identity(&self) -> String {
        // Region and endpoint pick another secret store.
        format!("aws {:?}", self.secret)
    }

    fn fetch(&self) -> Result<Passphrase, SourceError> {
        // Called on a blocking thread: inside the daemon that thread belongs
        // to the runtime, elsewhere (CLI) a small runtime is made.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.block_on(self.fetch_async()),
            Err(_) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| SourceError::unavailable(self, format_args!("runtime: {e}")))?
                .block_on(self.fetch_async()),
        }
    }
}
