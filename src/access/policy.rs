//! Who may do what: per-credential allow rules and the Admin rule.
//!
//! A caller may perform an operation on a credential when one of the
//! credential's `allow` rules lists the operation and the caller matches
//! every selector the rule gives (uid, gid, executable, systemd unit).
//! Executable and unit selectors match only an identity read race-free
//! (through a pidfd); where a system bus is present a unit selector matches
//! only the unit systemd named (see [`super::caller`]: systemd's answer wins
//! over the cgroup path; no answer, no match). A credential without rules
//! serves only the daemon's own uid. Denials name the rules that failed,
//! never secrets.

use super::caller::{Caller, Unit, UnitSource};
use crate::config::{AllowRule, Operation};
use crate::credential::{Credential, Executables};

/// Why a caller may not do something: names the caller and, per rule,
/// what it lacked; never a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

/// Why `rule` does not admit `caller` for `op`, or `None` if it does.
fn refusal(rule: &AllowRule, caller: &Caller, op: Operation, exes: &Executables) -> Option<String> {
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
        let is_one = caller.exe_file.is_some_and(|f| {
            rule.executables.iter().any(|path| {
                exes.identity(path)
                    .is_some_and(|want| want.same_file(&f, caller.same_namespaces))
            })
        });
        let why = if !caller.race_free {
            Some(" (identity not race-free: no pidfd)".to_owned())
        } else if !caller.same_namespaces && !rule.allow_other_namespaces {
            Some(
                " (the caller runs in other mount or user namespaces than the daemon, where \
                 any file can be mounted at any path: set allow_other_namespaces = true in the \
                 rule to admit such callers)"
                    .to_owned(),
            )
        } else if !is_one {
            Some(match caller.exe_file {
                Some(f) => format!(" (its executable is the file {f}, none of those)"),
                None => " (its executable could not be read)".to_owned(),
            })
        } else {
            None
        };
        if let Some(why) = why {
            return Some(format!("needs executable in {:?}{why}", rule.executables));
        }
    }
    if !rule.systemd_units.is_empty() || !rule.systemd_user_units.is_empty() {
        let ok = caller.race_free
            && match &caller.unit {
                Some(Unit::System(name)) => rule.systemd_units.contains(name),
                Some(Unit::User { uid, name }) => {
                    *uid == caller.uid
                        && rule
                            .systemd_user_units
                            .iter()
                            .any(|u| u.uid == *uid && &u.unit == name)
                }
                None => false,
            };
        if !ok {
            let mut wanted = Vec::new();
            if !rule.systemd_units.is_empty() {
                wanted.push(format!("systemd unit in {:?}", rule.systemd_units));
            }
            if !rule.systemd_user_units.is_empty() {
                let users: Vec<String> = rule
                    .systemd_user_units
                    .iter()
                    .map(|u| format!("{} of uid {}", u.unit, u.uid))
                    .collect();
                wanted.push(format!("user unit in {users:?}"));
            }
            let why = if !caller.race_free {
                " (identity not race-free: no pidfd)".to_owned()
            } else {
                match (&caller.unit_source, &caller.unit) {
                    (UnitSource::Unanswered(why), _) => {
                        format!(
                            " (a system bus is present but systemd did not say which unit it runs in: {why})"
                        )
                    }
                    (UnitSource::Systemd, Some(u)) => format!(" (systemd says it runs in {u})"),
                    (UnitSource::Systemd, None) => " (systemd says it is in no unit)".to_owned(),
                    (UnitSource::Cgroup, Some(u)) => format!(" (its cgroup places it in {u})"),
                    (UnitSource::Cgroup, None) => " (its cgroup is in no unit)".to_owned(),
                }
            };
            return Some(format!("needs {}{why}", wanted.join(" or ")));
        }
    }
    None
}

/// Whether `caller` may perform `op` on `cred`; the error names each rule
/// and why it did not match.
pub fn check(
    caller: &Caller,
    cred: &Credential,
    op: Operation,
    exes: &Executables,
) -> Result<(), Denied> {
    check_rules(caller, &cred.name, &cred.config.allow, op, exes)
}

/// [`check`] against a credential's name and rules (for a credential that
/// may no longer be loaded, such as one an event reports removed).
pub fn check_rules(
    caller: &Caller,
    name: &str,
    rules: &[AllowRule],
    op: Operation,
    exes: &Executables,
) -> Result<(), Denied> {
    check_subject(caller, &format!("credential {name:?}"), rules, op, exes)
}

/// Whether `caller` may send requests through the proxy's upstream `name`
/// by its own allow rules (which list the operation `proxy`).
pub fn check_upstream(
    caller: &Caller,
    name: &str,
    rules: &[AllowRule],
    exes: &Executables,
) -> Result<(), Denied> {
    check_subject(
        caller,
        &format!("upstream {name:?}"),
        rules,
        Operation::Proxy,
        exes,
    )
}

/// The rules of `subject` (`credential "x"`, `upstream "y"`), first match
/// wins; the error names each rule and why it did not match.
fn check_subject(
    caller: &Caller,
    subject: &str,
    rules: &[AllowRule],
    op: Operation,
    exes: &Executables,
) -> Result<(), Denied> {
    if rules.is_empty() {
        let own = crate::sys::process::effective_uid();
        if caller.uid == own {
            return Ok(());
        }
        return Err(Denied(format!(
            "{caller} may not {} {subject}: it has no allow rules, so only the daemon's uid {own} \
             may use it",
            op.as_str(),
        )));
    }
    let mut reasons = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        match refusal(rule, caller, op, exes) {
            None => return Ok(()),
            Some(r) => reasons.push(format!("rule {}: {r}", i + 1)),
        }
    }
    Err(Denied(format!(
        "{caller} may not {} {subject}: {}",
        op.as_str(),
        reasons.join("; ")
    )))
}

/// Whether `caller` may use the Admin service: root, the daemon's uid, or
/// a member of the admin group.
pub fn check_admin(caller: &Caller, admin_gid: Option<u32>) -> Result<(), Denied> {
    let own = crate::sys::process::effective_uid();
    if caller.uid == 0 || caller.uid == own || admin_gid.is_some_and(|g| caller.in_group(g)) {
        return Ok(());
    }
    Err(Denied(format!(
        "{caller} may not use the Admin service: only root, uid {own}{}",
        admin_gid
            .map(|g| format!(" and members of group {g}"))
            .unwrap_or_default()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fs::FileIdentity;
    use std::path::Path;

    fn caller(uid: u32, gid: u32, exe: &str, race_free: bool) -> Caller {
        Caller {
            uid,
            gid,
            groups: vec![50],
            pid: Some(1),
            exe: Some(exe.into()),
            exe_file: FileIdentity::of(Path::new(exe)).ok(),
            same_namespaces: true,
            unit: Some(Unit::System("app.service".into())),
            unit_source: UnitSource::Cgroup,
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
        let none = Executables::default();
        let sign_for_1000 = rule(|r| {
            r.uids = vec![1000];
            r.operations = vec![Operation::Sign];
        });
        let c = caller(1000, 1000, "/bin/sh", true);
        assert!(refusal(&sign_for_1000, &c, Operation::Sign, &none).is_none());
        assert!(
            refusal(&sign_for_1000, &c, Operation::Decrypt, &none)
                .unwrap()
                .contains("allows only")
        );
        assert!(
            refusal(
                &sign_for_1000,
                &caller(1001, 1000, "/bin/sh", true),
                Operation::Sign,
                &none
            )
            .is_some()
        );

        let by_group = rule(|r| {
            r.gids = vec![50];
            r.operations = vec![Operation::Read];
        });
        assert!(
            refusal(&by_group, &c, Operation::Read, &none).is_none(),
            "supplementary group"
        );

        let by_exe = rule(|r| {
            r.executables = vec!["/bin/sh".into()];
            r.systemd_units = vec!["app.service".into()];
            r.operations = vec![Operation::Sign];
        });
        let exes = Executables::resolve([&by_exe]);
        assert!(refusal(&by_exe, &c, Operation::Sign, &exes).is_none());
        assert!(
            refusal(&by_exe, &c, Operation::Sign, &none)
                .unwrap()
                .contains("none of those"),
            "an executable not resolved at load matches nothing"
        );
        let racy = caller(1000, 1000, "/bin/sh", false);
        assert!(
            refusal(&by_exe, &racy, Operation::Sign, &exes)
                .unwrap()
                .contains("not race-free"),
            "no pidfd, no executable match"
        );
        // The path a caller shows is not what is compared: the file is.
        let mut renamed = caller(1000, 1000, "/bin/sh", true);
        renamed.exe_file = FileIdentity::of(Path::new("/bin/cat")).ok();
        assert!(
            refusal(&by_exe, &renamed, Operation::Sign, &exes)
                .unwrap()
                .contains("none of those")
        );
        let mut elsewhere = caller(1000, 1000, "/bin/sh", true);
        elsewhere.same_namespaces = false;
        assert!(
            refusal(&by_exe, &elsewhere, Operation::Sign, &exes)
                .unwrap()
                .contains("allow_other_namespaces")
        );
        let mut containers = by_exe.clone();
        containers.allow_other_namespaces = true;
        assert!(refusal(&containers, &elsewhere, Operation::Sign, &exes).is_none());

        let user_unit = rule(|r| {
            r.systemd_user_units = vec![crate::config::UserUnit {
                uid: 1000,
                unit: "app.service".into(),
            }];
            r.operations = vec![Operation::Sign];
        });
        let mut in_user = caller(1000, 1000, "/bin/sh", true);
        in_user.unit = Some(Unit::User {
            uid: 1000,
            name: "app.service".into(),
        });
        assert!(refusal(&user_unit, &in_user, Operation::Sign, &none).is_none());
        assert!(
            refusal(&by_exe, &in_user, Operation::Sign, &exes).is_some(),
            "a user unit is not the system unit of that name"
        );
        assert!(
            refusal(&user_unit, &c, Operation::Sign, &none).is_some(),
            "the system unit is not the user unit"
        );
        let mut other_user = in_user.clone();
        other_user.uid = 1001;
        assert!(refusal(&user_unit, &other_user, Operation::Sign, &none).is_some());
    }

    #[test]
    fn a_unit_rule_follows_systemds_answer_and_fails_closed_without_one() {
        use super::super::caller::settle_unit;
        use crate::sys::systemd_bus::Answer;
        let none = Executables::default();
        let payments = rule(|r| {
            r.systemd_units = vec!["payments.service".into()];
            r.operations = vec![Operation::Sign];
        });
        let user_payments = rule(|r| {
            r.systemd_user_units = vec![crate::config::UserUnit {
                uid: 1000,
                unit: "payments.service".into(),
            }];
            r.operations = vec![Operation::Sign];
        });
        let with = |answer: Answer, cgroup: Option<Unit>| {
            let s = settle_unit(answer, cgroup);
            let mut c = caller(1000, 1000, "/bin/sh", true);
            c.unit = s.unit;
            c.unit_source = s.source;
            c
        };
        let faked = Some(Unit::System("payments.service".into()));
        let refused = |r: &AllowRule, c: &Caller| refusal(r, c, Operation::Sign, &none);

        assert!(refused(&payments, &with(Answer::NoBus, faked.clone())).is_none());
        assert!(
            refused(
                &payments,
                &with(Answer::Unit("payments.service".into()), None)
            )
            .is_none(),
            "systemd's answer admits whatever the cgroup path"
        );
        let why = refused(
            &payments,
            &with(Answer::Unit("-.slice".into()), faked.clone()),
        )
        .unwrap();
        assert!(why.contains("systemd says it runs in -.slice"), "{why}");
        let why = refused(
            &payments,
            &with(Answer::Unanswered("no systemd1 on the bus".into()), faked),
        )
        .unwrap();
        assert!(
            why.contains("systemd did not say") && why.contains("no systemd1 on the bus"),
            "{why}"
        );
        // A user unit via systemd's answer: only the rule naming that user.
        let in_user = || {
            with(
                Answer::Unit("user@1000.service".into()),
                Some(Unit::User {
                    uid: 1000,
                    name: "payments.service".into(),
                }),
            )
        };
        assert!(refused(&user_payments, &in_user()).is_none());
        assert!(refused(&payments, &in_user()).is_some());
        let mut other_uid = in_user();
        other_uid.uid = 1001;
        assert!(refused(&user_payments, &other_uid).is_some());
    }

    #[test]
    fn admin_is_root_own_uid_or_group() {
        assert!(check_admin(&caller(0, 0, "/x", true), None).is_ok());
        assert!(
            check_admin(
                &caller(crate::sys::process::effective_uid(), 0, "/x", true),
                None
            )
            .is_ok()
        );
        let other = caller(54321, 54321, "/x", true);
        assert!(check_admin(&other, None).is_err());
        assert!(
            check_admin(&other, Some(50)).is_ok(),
            "supplementary group 50"
        );
    }
}
