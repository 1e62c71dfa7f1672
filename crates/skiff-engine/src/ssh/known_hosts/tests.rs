//! Unit tests for `known_hosts`: parsing, matching (plain, wildcard, negated, hashed,
//! `[host]:port`), `@revoked`, appending and host-key algorithm ordering.

use super::*;

// Generated with `ssh-keygen -t ed25519 -N '' -C test@skiff` (K1, K2) and
// `ssh-keygen -t ecdsa` (K3); fingerprints from `ssh-keygen -lf`.
const K1: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPNfwFchYINQYCPIc6BTNLZbc7U8TilZ46UN0uj8Ok2g";
const K1_FP: &str = "SHA256:RhF5jYMCkLIIVkDBBSDw1kXJnhTGLiTTtAoko+AhwSI";
const K2: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb3IN1AfAb7uIMLQtOpIvk33IyqtuaPDmq9Hy4hk2GT";
const K2_FP: &str = "SHA256:H6YHNpGYSTIjJKOTqgt1pxlcqcFQ/VPxrXC8Yz29c6k";
const K3: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAh+7YboOB9wMr8Kzqjqq+BNKVNqn/X5hIX2tNdyUmjakRdq5FRGz+0hOLbPVUZChaago2TMWxygfVJdofwlvBA=";
const K3_FP: &str = "SHA256:Y9rul9UkyrrzaREwFasJhqnQHs1Qyes3vh5sZmHl4gU";
// `ssh-keygen -t rsa -b 2048`.
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDCJG2TGkPZMDoGsIlMym9iamn3JgQXCGk28SHorFAeei8rSzYM/tV/L662ib/Eh5fthb7sqDZVTtQ58WO4i2/ByY837t5N/uFMeIPLembU0UpqyCU5U1AFJgCYeYoGYT0eG9fmrcvkpao/mNM6zPBY4InV0/KgPZtX2Mc6aixfXm5APmCaapsosRtKv+VoLDgVz6yUfcMnVdf5kAXMzT60f9BXUEN3Opa0mYbsneMNYOjfPaAhzjrmV90tiT/MNX/KBAt0r/Y409Vy/kIx/Y9rzz1D6e1vCKjtwQBKvl0A85F5bph+06a4ONp1tmalrjKJvde+9YXdp6hErneg59yv";

// `printf 'example.com K1\n[example.com]:2222 K1\n' > kh; ssh-keygen -H -f kh`
const HASHED_22: &str = "|1|mgZu6CGyVeiK5/JrhygK4mDHbBk=|Llg+9X2KlKMleRUqia6d5KQTu2I= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPNfwFchYINQYCPIc6BTNLZbc7U8TilZ46UN0uj8Ok2g";
const HASHED_2222: &str = "|1|bzboZ5X5/r6T2TYuB0XKkENrwbQ=|GneHEFO/Lev61F4ckrwpuvVqNQQ= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPNfwFchYINQYCPIc6BTNLZbc7U8TilZ46UN0uj8Ok2g";

fn key(text: &str) -> PublicKey {
    PublicKey::from_openssh(text).unwrap()
}

fn kh(text: &str) -> KnownHosts {
    KnownHosts::parse(text, Path::new("/kh"))
}

#[test]
fn fingerprint_matches_ssh_keygen() {
    assert_eq!(fingerprint(&key(K1)), K1_FP);
    assert_eq!(fingerprint(&key(K2)), K2_FP);
    assert_eq!(fingerprint(&key(K3)), K3_FP);
}

#[test]
fn plain_host_trusted_and_unknown() {
    let known = kh(&format!("example.com {K1} comment here\n"));
    assert_eq!(
        known.check("example.com", 22, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("EXAMPLE.com", 22, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("other.com", 22, &key(K1)),
        HostKeyStatus::Unknown
    );
    // A non-default port only matches `[host]:port`.
    assert_eq!(
        known.check("example.com", 2222, &key(K1)),
        HostKeyStatus::Unknown
    );
}

#[test]
fn comment_does_not_matter() {
    let known = kh(&format!("example.com {K1} someone@else\n"));
    let mut presented = key(K1);
    presented.set_comment("different");
    assert_eq!(
        known.check("example.com", 22, &presented),
        HostKeyStatus::Trusted
    );
}

#[test]
fn bracketed_port_entry() {
    let known = kh(&format!("[example.com]:2222 {K1}\n"));
    assert_eq!(
        known.check("example.com", 2222, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("example.com", 22, &key(K1)),
        HostKeyStatus::Unknown
    );
    assert_eq!(
        known.check("example.com", 2200, &key(K1)),
        HostKeyStatus::Unknown
    );
}

#[test]
fn comma_separated_host_list() {
    let known = kh(&format!("a.example,192.0.2.7,[b.example]:2022 {K1}\n"));
    assert_eq!(
        known.check("a.example", 22, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("192.0.2.7", 22, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("b.example", 2022, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("b.example", 22, &key(K1)),
        HostKeyStatus::Unknown
    );
}

#[test]
fn wildcards_and_negation() {
    let known = kh(&format!("*.example.com,!bad.example.com,host?.lan {K1}\n"));
    assert_eq!(
        known.check("www.example.com", 22, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("bad.example.com", 22, &key(K1)),
        HostKeyStatus::Unknown
    );
    assert_eq!(
        known.check("host1.lan", 22, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("host12.lan", 22, &key(K1)),
        HostKeyStatus::Unknown
    );
    assert_eq!(
        known.check("example.com", 22, &key(K1)),
        HostKeyStatus::Unknown
    );
    // Negation only excludes; alone it matches nothing.
    let only_negated = kh(&format!("!foo {K1}\n"));
    assert_eq!(
        only_negated.check("bar", 22, &key(K1)),
        HostKeyStatus::Unknown
    );
}

#[test]
fn wildcard_matcher() {
    assert!(wildcard_match("*", ""));
    assert!(wildcard_match("a*b*c", "aXXbYYc"));
    assert!(wildcard_match("a*b", "abab"));
    assert!(!wildcard_match("a*b", "abac"));
    assert!(wildcard_match("??", "ab"));
    assert!(!wildcard_match("??", "abc"));
    assert!(wildcard_match("[*]:2222", "[h]:2222"));
}

#[test]
fn hashed_lines_from_ssh_keygen() {
    let known = kh(&format!("{HASHED_22}\n{HASHED_2222}\n"));
    assert_eq!(known.len(), 2);
    assert_eq!(
        known.check("example.com", 22, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("example.com", 2222, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("example.com", 2223, &key(K1)),
        HostKeyStatus::Unknown
    );
    assert_eq!(
        known.check("example.org", 22, &key(K1)),
        HostKeyStatus::Unknown
    );
}

#[test]
fn hashing_reproduces_ssh_keygen_vector() {
    let salt = BASE64.decode("mgZu6CGyVeiK5/JrhygK4mDHbBk=").unwrap();
    let field = hashed_host_field(&salt, "example.com");
    assert_eq!(
        field,
        "|1|mgZu6CGyVeiK5/JrhygK4mDHbBk=|Llg+9X2KlKMleRUqia6d5KQTu2I="
    );
    let salt = BASE64.decode("bzboZ5X5/r6T2TYuB0XKkENrwbQ=").unwrap();
    let field = hashed_host_field(&salt, &host_port_string("example.com", 2222));
    assert_eq!(
        field,
        "|1|bzboZ5X5/r6T2TYuB0XKkENrwbQ=|GneHEFO/Lev61F4ckrwpuvVqNQQ="
    );
}

#[test]
fn changed_reports_line_and_old_fingerprint() {
    let text = format!("# header\n\nother.com {K2}\nexample.com {K1}\n");
    let known = kh(&text);
    assert_eq!(
        known.check("example.com", 22, &key(K2)),
        HostKeyStatus::Changed {
            path: PathBuf::from("/kh"),
            line: 4,
            old_key_type: "ssh-ed25519".into(),
            old_fingerprint: K1_FP.into(),
        }
    );
}

#[test]
fn other_algorithm_is_another_type_known_not_changed() {
    let known = kh(&format!("# ed25519 first\nexample.com {K1}\n"));
    assert_eq!(
        known.check("example.com", 22, &key(K3)),
        HostKeyStatus::OtherTypeKnown {
            known: vec![KnownKey {
                key_type: "ssh-ed25519".into(),
                fingerprint: K1_FP.into(),
                path: PathBuf::from("/kh"),
                line: 2,
            }]
        }
    );
    // Another host, or the same host on another port, knows nothing: plain unknown.
    assert_eq!(known.check("other.com", 22, &key(K3)), HostKeyStatus::Unknown);
    assert_eq!(known.check("example.com", 2222, &key(K3)), HostKeyStatus::Unknown);
    // A revoked key of another type does not make the host "known".
    let revoked = kh(&format!("@revoked example.com {K1}\n"));
    assert_eq!(revoked.check("example.com", 22, &key(K3)), HostKeyStatus::Unknown);
    // Every known type is listed, in file order.
    let both = kh(&format!("example.com {K1}\nexample.com {K3}\n"));
    let rsa = key(RSA);
    match both.check("example.com", 22, &rsa) {
        HostKeyStatus::OtherTypeKnown { known } => {
            let types: Vec<&str> = known.iter().map(|k| k.key_type.as_str()).collect();
            assert_eq!(types, ["ssh-ed25519", "ecdsa-sha2-nistp256"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn key_types_for_a_host_in_file_order_once() {
    let known = kh(&format!(
        "example.com {K3}\nexample.com,other {K1}\n[example.com]:2222 {RSA}\nexample.com {K2}\n@revoked example.com {RSA}\n"
    ));
    let ecdsa = Algorithm::Ecdsa { curve: russh::keys::EcdsaCurve::NistP256 };
    assert_eq!(known.key_types("example.com", 22), vec![ecdsa.clone(), Algorithm::Ed25519]);
    assert_eq!(known.key_types("example.com", 2222), vec![Algorithm::Rsa { hash: None }]);
    assert_eq!(known.key_types("nowhere", 22), vec![]);
}

#[test]
fn host_key_algorithms_prefer_known_types_like_openssh() {
    use russh::keys::EcdsaCurve::NistP256;
    let preferred = russh::Preferred::DEFAULT.key.to_vec();
    // Nothing known: the default order.
    assert_eq!(order_host_key_algorithms(&preferred, &[]), preferred);
    // RSA known: all three RSA signature algorithms first, in their order.
    let ordered = order_host_key_algorithms(&preferred, &[Algorithm::Rsa { hash: None }]);
    let names: Vec<String> = ordered.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        names,
        [
            "rsa-sha2-512",
            "rsa-sha2-256",
            "ssh-rsa",
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "ecdsa-sha2-nistp384",
            "ecdsa-sha2-nistp521"
        ]
    );
    // Two known types keep the default order between them; nothing is lost.
    let ordered = order_host_key_algorithms(&preferred, &[Algorithm::Ecdsa { curve: NistP256 }, Algorithm::Ed25519]);
    assert_eq!(ordered[0], Algorithm::Ed25519);
    assert_eq!(ordered[1], Algorithm::Ecdsa { curve: NistP256 });
    assert_eq!(ordered.len(), preferred.len());
}

#[test]
fn any_matching_line_with_the_key_is_trusted() {
    // Two keys of the same type for one host (e.g. during rotation): either is fine.
    let known = kh(&format!("example.com {K2}\nexample.com {K1}\n"));
    assert_eq!(
        known.check("example.com", 22, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("example.com", 22, &key(K2)),
        HostKeyStatus::Trusted
    );
}

#[test]
fn revoked_takes_precedence() {
    let text = format!("example.com {K1}\n@revoked * {K1}\n");
    let known = kh(&text);
    assert_eq!(
        known.check("example.com", 22, &key(K1)),
        HostKeyStatus::Revoked {
            path: PathBuf::from("/kh"),
            line: 2
        }
    );
    // A revoked key does not make other keys changed or trusted.
    assert_eq!(known.check("other", 22, &key(K2)), HostKeyStatus::Unknown);
}

#[test]
fn cert_authority_comments_and_garbage_skipped() {
    let text = format!(
        "# comment\n   \n@cert-authority *.example.com {K1}\n@bogus x {K1}\nexample.com\nexample.com ssh-ed25519 !!!notbase64\n|1|zzz {K1}\n\texample.com\t{K2}\n"
    );
    let known = kh(&text);
    assert_eq!(known.len(), 1);
    assert_eq!(
        known.check("www.example.com", 22, &key(K1)),
        HostKeyStatus::Unknown
    );
    assert_eq!(
        known.check("example.com", 22, &key(K2)),
        HostKeyStatus::Trusted
    );
}

#[test]
fn load_missing_file_is_empty_and_concatenates() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    fs::write(&a, format!("one.example {K1}\n")).unwrap();
    fs::write(&b, format!("# x\ntwo.example {K1}\n")).unwrap();
    let known = KnownHosts::load(&[dir.path().join("missing"), a.clone(), b.clone()]).unwrap();
    assert_eq!(known.len(), 2);
    assert_eq!(
        known.check("two.example", 22, &key(K1)),
        HostKeyStatus::Trusted
    );
    match known.check("two.example", 22, &key(K2)) {
        HostKeyStatus::Changed { path, line, .. } => {
            assert_eq!(path, b);
            assert_eq!(line, 2);
        }
        other => panic!("expected Changed, got {other:?}"),
    }
}

#[test]
fn append_then_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/.ssh/known_hosts");
    KnownHosts::append(&path, "example.com", 22, &key(K1), false).unwrap();
    KnownHosts::append(&path, "example.com", 2222, &key(K2), false).unwrap();
    KnownHosts::append(&path, "hashed.example", 22, &key(K3), true).unwrap();
    KnownHosts::append(&path, "hashed.example", 8022, &key(K1), true).unwrap();

    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("example.com {K1}"));
    assert_eq!(lines[1], format!("[example.com]:2222 {K2}"));
    assert!(lines[2].starts_with("|1|") && lines[2].ends_with(K3));
    assert!(!text.contains("hashed.example"));

    let known = KnownHosts::load(std::slice::from_ref(&path)).unwrap();
    assert_eq!(
        known.check("example.com", 22, &key(K1)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("example.com", 2222, &key(K2)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("hashed.example", 22, &key(K3)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("hashed.example", 8022, &key(K1)),
        HostKeyStatus::Trusted
    );
    // hashed.example:22 is known by another key type (K3): its own case.
    assert!(matches!(known.check("hashed.example", 22, &key(K1)), HostKeyStatus::OtherTypeKnown { .. }));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
    }
}

#[test]
fn append_after_file_without_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("known_hosts");
    fs::write(&path, format!("old.example {K2}")).unwrap();
    KnownHosts::append(&path, "new.example", 22, &key(K1), false).unwrap();
    let known = KnownHosts::load(&[path]).unwrap();
    assert_eq!(known.len(), 2);
    assert_eq!(
        known.check("old.example", 22, &key(K2)),
        HostKeyStatus::Trusted
    );
    assert_eq!(
        known.check("new.example", 22, &key(K1)),
        HostKeyStatus::Trusted
    );
}
