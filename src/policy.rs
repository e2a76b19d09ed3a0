//! Who may do what: per-credential allow rules and the Admin rule.
//!
//! A caller may perform an operation on a credential when one of the
//! credential's `allow` rules lists the operation and the caller matches
//! every selector the rule gives (uid, gid, executable, systemd unit).
//! Executable and unit selectors match only an identity read race-free
//! (through a pidfd). A credential without rules serves only the daemon's
//! own uid. Denials name the rules that failed, never secrets.

use crate::caller::Caller;
use crate::config::{AllowRule, Operation};
use crate::credential::Credential;
use crate::error::Error;
use crate::os;

/// Why `rule` does not admit `caller` for `op`, or `None` if it does.
fn refusal(rule: &AllowRule, caller: &Caller, op: Operation) -> Option<String> {
    if !rule.operations.contains(&op) {
        return Some(format!(
            "allows only {:?}",
            rule.operations
                .iter()
                .map(|o| o.as_str())
                .collect::<Vec<_>>()
        ));
    }
    if !rule.uids.is_empty() && !rule.uids.contains(&caller.uid) {
        return Some(format!("needs uid in {:?}", rule.uids));
    }
    if !rule.gids.is_empty() && !rule.gids.iter().any(|g| caller.in_group(*g)) {
        return Some(format!("needs a group in {:?}", rule.gids));
    }
    if !rule.executables.is_empty() {
        let ok = caller.race_free
            && caller
                .exe
                .as_ref()
                .is_some_and(|e| rule.executables.contains(e));
        if !ok {
            return Some(format!(
                "needs executable in {:?}{}",
                rule.executables,
                if caller.race_free {
                    ""
                } else {
                    " (identity not race-free: no pidfd)"
                }
            ));
        }
    }
    if !rule.systemd_units.is_empty() {
        let ok = caller.race_free
            && caller
                .unit
                .as_ref()
                .is_some_and(|u| rule.systemd_units.contains(u));
        if !ok {
            return Some(format!("needs systemd unit in {:?}", rule.systemd_units));
        }
    }
    None
}

/// Whether `caller` may perform `op` on `cred`; the error names each rule
/// and why it did not match.
pub fn check(caller: &Caller, cred: &Credential, op: Operation) -> Result<(), Error> {
    check_rules(caller, &cred.name, &cred.config.allow, op)
}

/// [`check`] against a credential's name and rules (for a credential that
/// may no longer be loaded, such as one an event reports removed).
pub fn check_rules(
    caller: &Caller,
    name: &str,
    rules: &[AllowRule],
    op: Operation,
) -> Result<(), Error> {
    if rules.is_empty() {
        let own = os::effective_uid();
        if caller.uid == own {
            return Ok(());
        }
        return Err(Error::PermissionDenied(format!(
            "{caller} may not {} credential {name:?}: it has no allow rules, so only the daemon's \
             uid {own} may use it",
            op.as_str(),
        )));
    }
    let mut reasons = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        match refusal(rule, caller, op) {
            None => return Ok(()),
            Some(r) => reasons.push(format!("rule {}: {r}", i + 1)),
        }
    }
    Err(Error::PermissionDenied(format!(
        "{caller} may not {} credential {name:?}: {}",
        op.as_str(),
        reasons.join("; ")
    )))
}

/// Whether `caller` may use the Admin service: root, the daemon's uid, or
/// a member of the admin group.
pub fn check_admin(caller: &Caller, admin_gid: Option<u32>) -> Result<(), Error> {
    let own = os::effective_uid();
    if caller.uid == 0 || caller.uid == own || admin_gid.is_some_and(|g| caller.in_group(g)) {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "{caller} may not use the Admin service: only root, uid {own}{}",
        admin_gid
            .map(|g| format!(" and members of group {g}"))
            .unwrap_or_default()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(uid: u32, gid: u32, exe: &str, race_free: bool) -> Caller {
        Caller {
            uid,
            gid,
            groups: vec![50],
            pid: Some(1),
            exe: Some(exe.into()),
            unit: Some("app.service".into()),
            race_free,
        }
    }

    fn rule(f: impl FnOnce(&mut AllowRule)) -> AllowRule {
        let mut r = AllowRule::default();
        f(&mut r);
        r
    }

    #[test]
    fn rules_match_every_selector_they_give() {
        let sign_for_1000 = rule(|r| {
            r.uids = vec![1000];
            r.operations = vec![Operation::Sign];
        });
        let c = caller(1000, 1000, "/usr/bin/app", true);
        assert!(refusal(&sign_for_1000, &c, Operation::Sign).is_none());
        assert!(
            refusal(&sign_for_1000, &c, Operation::Decrypt)
                .unwrap()
                .contains("allows only")
        );
        assert!(
            refusal(
                &sign_for_1000,
                &caller(1001, 1000, "/x", true),
                Operation::Sign
            )
            .is_some()
        );

        let by_group = rule(|r| {
            r.gids = vec![50];
            r.operations = vec![Operation::Read];
        });
        assert!(
            refusal(&by_group, &c, Operation::Read).is_none(),
            "supplementary group"
        );

        let by_exe = rule(|r| {
            r.executables = vec!["/usr/bin/app".into()];
            r.systemd_units = vec!["app.service".into()];
            r.operations = vec![Operation::Sign];
        });
        assert!(refusal(&by_exe, &c, Operation::Sign).is_none());
        let racy = caller(1000, 1000, "/usr/bin/app", false);
        assert!(
            refusal(&by_exe, &racy, Operation::Sign)
                .unwrap()
                .contains("not race-free"),
            "no pidfd, no executable match"
        );
        assert!(
            refusal(
                &by_exe,
                &caller(1000, 1000, "/usr/bin/other", true),
                Operation::Sign
            )
            .is_some()
        );
    }

    #[test]
    fn admin_is_root_own_uid_or_group() {
        assert!(check_admin(&caller(0, 0, "/x", true), None).is_ok());
        assert!(check_admin(&caller(os::effective_uid(), 0, "/x", true), None).is_ok());
        let other = caller(54321, 54321, "/x", true);
        assert!(check_admin(&other, None).is_err());
        assert!(
            check_admin(&other, Some(50)).is_ok(),
            "supplementary group 50"
        );
    }
}
