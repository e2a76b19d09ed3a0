//! The executables allow rules name, resolved to the files they are.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::config::AllowRule;
use crate::sys::fs::FileIdentity;

/// The files the `executables` selectors name, resolved to what they are
/// (device, inode, mount) when the registry is built: at load and at every
/// reload. A path that cannot be resolved matches nothing.
#[derive(Debug, Default, Clone)]
pub struct Executables(HashMap<PathBuf, Result<FileIdentity, String>>);

impl Executables {
    /// Resolves every executable the rules name.
    pub fn resolve<'a>(rules: impl IntoIterator<Item = &'a AllowRule>) -> Self {
        let mut map = HashMap::new();
        for path in rules.into_iter().flat_map(|r| &r.executables) {
            map.entry(path.clone()).or_insert_with(|| {
                FileIdentity::of(path).map_err(|e| {
                    tracing::warn!(executable = %path.display(), error = %e, "an allow rule names an executable that cannot be read: it matches no caller");
                    e.to_string()
                })
            });
        }
        Self(map)
    }

    /// What `path` was resolved to, if it could be.
    pub fn identity(&self, path: &Path) -> Option<&FileIdentity> {
        self.0.get(path).and_then(|r| r.as_ref().ok())
    }
}
