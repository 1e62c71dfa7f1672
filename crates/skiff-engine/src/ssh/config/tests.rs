//! Unit tests for `config`: resolving aliases against a fake `~/.ssh/config` (defaults,
//! `Host` patterns, `Include`, `Match` blocks, token and `~` expansion, bad values).

use super::*;

/// A fake home with `~/.ssh/config` holding `config`.
fn setup(config: &str) -> (tempfile::TempDir, SshConfig) {
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    fs::create_dir_all(&ssh).unwrap();
    fs::write(ssh.join("config"), config).unwrap();
    let cfg = SshConfig::load_with_home(&ssh.join("config"), home.path()).unwrap();
    (home, cfg)
}

#[test]
fn defaults_for_unknown_alias() {
    let (home, cfg) = setup("");
    let h = cfg.resolve("example.com");
    let ssh = home.path().join(".ssh");
    assert_eq!(h.alias, "example.com");
    assert_eq!(h.host_name, "example.com");
    assert_eq!(h.port, 22);
    assert_eq!(h.user, local_user_name());
    assert!(!h.identity_files_explicit);
    assert_eq!(
        h.identity_files,
        vec![
            ssh.join("id_ed25519"),
            ssh.join("id_ecdsa"),
            ssh.join("id_rsa")
        ]
    );
    assert!(!h.identities_only);
    assert_eq!(
        h.user_known_hosts_files,
        vec![ssh.join("known_hosts"), ssh.join("known_hosts2")]
    );
    assert_eq!(h.strict_host_key_checking, StrictHostKeyChecking::Ask);
    assert!(h.proxy_jump.is_empty());
    assert_eq!(h.connect_timeout, None);
}

#[test]
fn missing_file_is_empty_config() {
    let home = tempfile::tempdir().unwrap();
    let cfg = SshConfig::load_with_home(&home.path().join("nope"), home.path()).unwrap();
    assert!(cfg.host_aliases().is_empty());
    assert_eq!(cfg.resolve("x").port, 22);
    assert_eq!(SshConfig::empty().resolve("x").host_name, "x");
}

#[test]
fn full_host_block() {
    let (home, cfg) = setup(
        "Host web\n\
         \tHostName web.example.com\n\
         \tPort 2222\n\
         \tUser alice\n\
         \tIdentityFile ~/.ssh/web_key\n\
         \tIdentitiesOnly yes\n\
         \tUserKnownHostsFile ~/.ssh/kh_web /etc/ssh/kh_%h\n\
         \tStrictHostKeyChecking accept-new\n\
         \tConnectTimeout 7\n\
         \tSomeFutureOption whatever\n",
    );
    let h = cfg.resolve("web");
    let ssh = home.path().join(".ssh");
    assert_eq!(h.host_name, "web.example.com");
    assert_eq!(h.port, 2222);
    assert_eq!(h.user, "alice");
    assert!(h.identity_files_explicit);
    assert_eq!(h.identity_files, vec![ssh.join("web_key")]);
    assert!(h.identities_only);
    assert_eq!(
        h.user_known_hosts_files,
        vec![
            ssh.join("kh_web"),
            PathBuf::from("/etc/ssh/kh_web.example.com")
        ]
    );
    assert_eq!(h.strict_host_key_checking, StrictHostKeyChecking::AcceptNew);
    assert_eq!(h.connect_timeout, Some(Duration::from_secs(7)));
}

#[test]
fn strict_host_key_checking_values() {
    let (_home, cfg) = setup(
        "Host a\n StrictHostKeyChecking yes\nHost b\n StrictHostKeyChecking no\n\
         Host c\n StrictHostKeyChecking ask\nHost d\n StrictHostKeyChecking off\n\
         Host e\n StrictHostKeyChecking bogus\n",
    );
    assert_eq!(
        cfg.resolve("a").strict_host_key_checking,
        StrictHostKeyChecking::Yes
    );
    assert_eq!(
        cfg.resolve("b").strict_host_key_checking,
        StrictHostKeyChecking::No
    );
    assert_eq!(
        cfg.resolve("c").strict_host_key_checking,
        StrictHostKeyChecking::Ask
    );
    assert_eq!(
        cfg.resolve("d").strict_host_key_checking,
        StrictHostKeyChecking::No
    );
    assert_eq!(
        cfg.resolve("e").strict_host_key_checking,
        StrictHostKeyChecking::Ask
    );
}

#[test]
fn patterns_wildcards_negation_and_lists() {
    let (_home, cfg) = setup(
        "Host *.prod !db.prod\n  User deploy\n\
         Host build? ci\n  Port 2200\n\
         Host *\n  User fallback\n",
    );
    assert_eq!(cfg.resolve("web.prod").user, "deploy");
    assert_eq!(cfg.resolve("db.prod").user, "fallback");
    assert_eq!(cfg.resolve("build1").port, 2200);
    assert_eq!(cfg.resolve("ci").port, 2200);
    assert_eq!(cfg.resolve("build12").port, 22);
    assert_eq!(cfg.resolve("elsewhere").user, "fallback");
}

#[test]
fn first_obtained_value_wins() {
    let (_home, cfg) = setup(
        "ConnectTimeout 3\n\
         Host web\n  User alice\n  StrictHostKeyChecking yes\n\
         Host web\n  User bob\n  Port 2022\n\
         Host *\n  User carol\n  Port 22\n  StrictHostKeyChecking no\n  ConnectTimeout 30\n",
    );
    let h = cfg.resolve("web");
    assert_eq!(h.user, "alice");
    assert_eq!(h.port, 2022);
    assert_eq!(h.strict_host_key_checking, StrictHostKeyChecking::Yes);
    // Options before the first Host apply to every host and win over later ones.
    assert_eq!(h.connect_timeout, Some(Duration::from_secs(3)));
    let other = cfg.resolve("other");
    assert_eq!(other.user, "carol");
    assert_eq!(other.strict_host_key_checking, StrictHostKeyChecking::No);
}

#[test]
fn identity_files_accumulate() {
    let (home, cfg) =
        setup("Host web\n IdentityFile ~/.ssh/a\nHost *\n IdentityFile ~/.ssh/b\n");
    let ssh = home.path().join(".ssh");
    assert_eq!(
        cfg.resolve("web").identity_files,
        vec![ssh.join("a"), ssh.join("b")]
    );
}

#[test]
fn include_relative_with_glob_and_inside_host() {
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    fs::create_dir_all(ssh.join("config.d")).unwrap();
    fs::write(
        ssh.join("config.d/10-a.conf"),
        "Host alpha\n  HostName alpha.example\n",
    )
    .unwrap();
    fs::write(ssh.join("config.d/20-b.conf"), "Host beta\n  Port 2201\n").unwrap();
    fs::write(ssh.join("config.d/skip.txt"), "Host gamma\n").unwrap();
    fs::write(ssh.join("scoped"), "User scoped-user\n").unwrap();
    fs::write(
        ssh.join("config"),
        "Include config.d/*.conf\nHost scoped\n  Include scoped\nHost *\n  User everyone\n",
    )
    .unwrap();
    let cfg = SshConfig::load_with_home(&ssh.join("config"), home.path()).unwrap();
    assert_eq!(cfg.resolve("alpha").host_name, "alpha.example");
    assert_eq!(cfg.resolve("beta").port, 2201);
    assert_eq!(cfg.resolve("scoped").user, "scoped-user");
    assert_eq!(cfg.resolve("alpha").user, "everyone");
    assert_eq!(cfg.host_aliases(), vec!["alpha", "beta", "scoped"]);
}

#[test]
fn host_aliases_are_concrete_and_deduplicated() {
    let (_home, cfg) =
        setup("Host web web2 *.corp !bad\n Port 1\nHost db? web\n Port 2\nHost *\n User x\n");
    assert_eq!(cfg.host_aliases(), vec!["web", "web2"]);
}

#[test]
fn match_blocks_do_not_leak() {
    let (_home, cfg) = setup(
        "Host web\n  Port 2022\nMatch host web exec \"true\"\n  User from-match\n  Port 9\nHost *\n  User everyone\n",
    );
    let h = cfg.resolve("web");
    assert_eq!(h.port, 2022);
    assert_eq!(h.user, "everyone");
}

#[test]
fn bad_value_is_an_error_naming_the_file() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("config");
    fs::write(&path, "Host x\n Port notanumber\n").unwrap();
    let err = SshConfig::load_with_home(&path, home.path()).unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }));
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn proxy_jump_parsing() {
    let (_home, cfg) = setup(
        "Host inner\n  ProxyJump alice@bastion:2222,gw,ssh://bob@[2001:db8::1]:22\n\
         Host direct\n  ProxyJump none\nHost *\n  ProxyJump default-gw\n",
    );
    assert_eq!(
        cfg.resolve("inner").proxy_jump,
        vec![
            JumpHost {
                user: Some("alice".into()),
                host: "bastion".into(),
                port: Some(2222)
            },
            JumpHost {
                user: None,
                host: "gw".into(),
                port: None
            },
            JumpHost {
                user: Some("bob".into()),
                host: "2001:db8::1".into(),
                port: Some(22)
            },
        ]
    );
    assert!(cfg.resolve("direct").proxy_jump.is_empty());
    assert_eq!(cfg.resolve("x").proxy_jump[0].host, "default-gw");
}

#[test]
fn tokens_in_paths() {
    let (home, cfg) = setup(
        "Host web\n  HostName %h.example.com\n  Port 2022\n  User alice\n\
         \tIdentityFile %d/keys/%r@%h:%p\n\
         \tIdentityFile ~/keys/%u-%n-100%%\n\
         \tUserKnownHostsFile %d/kh/%h_%p %d/kh/%C\n",
    );
    let h = cfg.resolve("web");
    let home = home.path();
    assert_eq!(h.host_name, "web.example.com");
    assert_eq!(
        h.identity_files,
        vec![
            home.join("keys/alice@web.example.com:2022"),
            home.join(format!("keys/{}-web-100%", local_user_name())),
        ]
    );
    assert_eq!(
        h.user_known_hosts_files,
        vec![home.join("kh/web.example.com_2022"), home.join("kh/%C")]
    );
}

#[test]
fn user_known_hosts_file_none() {
    let (_home, cfg) = setup("Host web\n  UserKnownHostsFile none\n  IdentityFile none\n");
    let h = cfg.resolve("web");
    assert!(h.user_known_hosts_files.is_empty());
    assert!(!h.identity_files_explicit);
}
