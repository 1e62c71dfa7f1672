//! The `sshd_config` of a private server: the settings every Skiff-started sshd shares, and
//! where the caller's own lines go.
//!
//! sshd keeps the FIRST value of a keyword, and everything after a `Match` line applies only
//! inside it. So the caller's settings come first (they override the common ones), then the
//! common ones, then the caller's `Match` blocks. Pure text.

use std::path::Path;

use super::SshdOptions;

/// The files the configuration names.
pub(super) struct ConfigFiles<'a> {
    pub host_key: &'a Path,
    pub authorized_keys: &'a Path,
    pub pid_file: &'a Path,
}

/// A path as an sshd_config value: quoted (paths may hold spaces).
pub fn quoted(p: &Path) -> String {
    format!("\"{}\"", p.display())
}

/// The whole `sshd_config` for a server on `127.0.0.1:port`.
pub(super) fn config_text(port: u16, files: &ConfigFiles<'_>, opts: &SshdOptions) -> String {
    let own_sftp = opts.settings.iter().any(|l| {
        let mut words = l.split_whitespace();
        words.next().is_some_and(|k| k.eq_ignore_ascii_case("subsystem")) && words.next() == Some("sftp")
    });
    let mut c = String::from("# Written by Skiff for a private server on 127.0.0.1.\n");
    let mut line = |s: &str| {
        c.push_str(s);
        c.push('\n');
    };
    for setting in &opts.settings {
        line(setting);
    }
    line(&format!("Port {port}"));
    line("ListenAddress 127.0.0.1");
    line(&format!("HostKey {}", quoted(files.host_key)));
    // AuthorizedKeysFile expands % tokens.
    line(&format!("AuthorizedKeysFile {}", quoted(files.authorized_keys).replace('%', "%%")));
    line(&format!("PidFile {}", quoted(files.pid_file)));
    for common in [
        "StrictModes no",
        "UsePAM no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitEmptyPasswords no",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "MaxStartups 100",
        "MaxSessions 64",
    ] {
        line(common);
    }
    if opts.sftp && !own_sftp {
        line("Subsystem sftp internal-sftp");
    }
    for block in &opts.match_blocks {
        line(block);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> ConfigFiles<'static> {
        ConfigFiles { host_key: Path::new("/s p/hk"), authorized_keys: Path::new("/s p/a%k"), pid_file: Path::new("/s p/pid") }
    }

    #[test]
    fn settings_first_match_blocks_last_paths_quoted() {
        let opts = SshdOptions {
            settings: vec!["PasswordAuthentication yes".into()],
            match_blocks: vec!["Match User bob".into(), "  PermitOpen none".into()],
            sftp: true,
        };
        let c = config_text(2222, &files(), &opts);
        let at = |needle: &str| c.find(needle).unwrap_or_else(|| panic!("{needle:?} missing in:\n{c}"));
        assert!(at("PasswordAuthentication yes") < at("PasswordAuthentication no"));
        assert!(at("Subsystem sftp internal-sftp") < at("Match User bob"));
        assert!(at("Port 2222\n") < at("Match User bob"));
        assert!(c.ends_with("Match User bob\n  PermitOpen none\n"), "{c}");
        at("HostKey \"/s p/hk\"\n");
        at("AuthorizedKeysFile \"/s p/a%%k\"\n");
        at("PidFile \"/s p/pid\"\n");
    }

    #[test]
    fn sftp_subsystem_default_own_or_none() {
        let with = |settings: Vec<String>, sftp: bool| config_text(1, &files(), &SshdOptions { settings, match_blocks: vec![], sftp });
        assert!(with(vec![], true).contains("Subsystem sftp internal-sftp\n"));
        assert!(!with(vec![], false).contains("Subsystem"));
        let own = with(vec!["Subsystem sftp /opt/other-sftp".into()], true);
        assert!(own.contains("Subsystem sftp /opt/other-sftp\n") && !own.contains("internal-sftp"), "{own}");
    }
}
