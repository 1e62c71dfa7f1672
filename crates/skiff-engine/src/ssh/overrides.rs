//! What a person said about one connection on top of ssh_config: the `-i`, `-o` and
//! `--accept-new` of a command line. A job stores them (with its host, user, port and `-F`
//! file), so whichever front end runs the job later connects exactly as the first one did.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::config::{HostConfig, StrictHostKeyChecking};
use crate::error::{Error, ErrorKind, Result};

/// Connection settings given for one connection or job, applied over what ssh_config says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Overrides {
    /// Private keys to try first (`-i`, in order).
    pub identity: Vec<PathBuf>,
    /// ssh_config options as `KEY=VALUE` (`-o`), applied in order.
    pub options: Vec<String>,
    /// Accept and save an unknown host key (like `StrictHostKeyChecking accept-new`).
    pub accept_new: bool,
}

/// The `-o` options Skiff understands.
const KNOWN_OPTIONS: &str = "User, Port, IdentityFile, IdentitiesOnly, UserKnownHostsFile, StrictHostKeyChecking or ConnectTimeout";

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self == &Overrides::default()
    }

    /// Apply the options, then put the identities first (before any ssh_config gave, which
    /// stay after them as OpenSSH does; without an ssh_config `IdentityFile` they replace the
    /// default keys).
    pub fn apply(&self, hc: &mut HostConfig) -> Result<()> {
        for o in &self.options {
            apply_option(hc, o)?;
        }
        if !self.identity.is_empty() {
            let mut ids = self.identity.clone();
            if hc.identity_files_explicit {
                ids.append(&mut hc.identity_files);
            }
            hc.identity_files = ids;
            hc.identity_files_explicit = true;
        }
        Ok(())
    }
}

/// Apply one `KEY=VALUE` (or `KEY VALUE`) ssh_config option to a resolved host.
pub fn apply_option(hc: &mut HostConfig, kv: &str) -> Result<()> {
    let bad = || {
        Error::new(ErrorKind::Config, "parse -o", format!("cannot use option {kv:?}")).hint(format!("use KEY=VALUE with {KNOWN_OPTIONS}"))
    };
    let (k, v) = kv.split_once('=').or_else(|| kv.split_once(' ')).ok_or_else(bad)?;
    let v = v.trim();
    match k.trim().to_ascii_lowercase().as_str() {
        "user" if !v.is_empty() => hc.user = v.to_string(),
        "port" => hc.port = v.parse().ok().filter(|&p| p > 0).ok_or_else(bad)?,
        "identityfile" => {
            if !hc.identity_files_explicit {
                hc.identity_files.clear();
            }
            hc.identity_files.insert(0, expand_tilde(v));
            hc.identity_files_explicit = true;
        }
        "identitiesonly" => hc.identities_only = matches!(v.to_ascii_lowercase().as_str(), "yes" | "true"),
        "userknownhostsfile" => hc.user_known_hosts_files = v.split_whitespace().map(expand_tilde).collect(),
        "stricthostkeychecking" => {
            hc.strict_host_key_checking = match v.to_ascii_lowercase().as_str() {
                "yes" | "true" => StrictHostKeyChecking::Yes,
                "no" | "off" | "false" => StrictHostKeyChecking::No,
                "accept-new" => StrictHostKeyChecking::AcceptNew,
                "ask" => StrictHostKeyChecking::Ask,
                _ => return Err(bad()),
            }
        }
        "connecttimeout" => hc.connect_timeout = Some(std::time::Duration::from_secs(v.parse().map_err(|_| bad())?)),
        _ => return Err(bad()),
    }
    Ok(())
}

/// `~/x` → `$HOME/x`.
pub(crate) fn expand_tilde(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME").filter(|h| !h.is_empty())) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::SshConfig;

    #[test]
    fn options_and_identities_apply_in_order() {
        let mut hc = SshConfig::empty().resolve("h");
        let o = Overrides {
            identity: vec![PathBuf::from("/k/first")],
            options: vec!["Port=2200".into(), "User bob".into(), "IdentityFile=/k/from-o".into(), "StrictHostKeyChecking=accept-new".into()],
            accept_new: false,
        };
        o.apply(&mut hc).unwrap();
        assert_eq!((hc.port, hc.user.as_str()), (2200, "bob"));
        assert_eq!(hc.identity_files, vec![PathBuf::from("/k/first"), PathBuf::from("/k/from-o")]);
        assert!(hc.identity_files_explicit);
        assert_eq!(hc.strict_host_key_checking, StrictHostKeyChecking::AcceptNew);
    }

    #[test]
    fn bad_options_say_what_is_understood() {
        for bad in ["Port=0", "Port=x", "NoSuch=1", "novalue", "StrictHostKeyChecking=maybe", "User="] {
            let mut hc = SshConfig::empty().resolve("h");
            let e = apply_option(&mut hc, bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config, "{bad}");
            assert!(e.to_string().contains("IdentityFile"), "{bad}: {e}");
        }
    }

    #[test]
    fn round_trips_as_json() {
        let o = Overrides { identity: vec!["/k".into()], options: vec!["Port=1".into()], accept_new: true };
        let text = serde_json::to_string(&o).unwrap();
        assert_eq!(serde_json::from_str::<Overrides>(&text).unwrap(), o);
        assert_eq!(serde_json::from_str::<Overrides>("{}").unwrap(), Overrides::default());
        assert!(Overrides::default().is_empty() && !o.is_empty());
    }
}
