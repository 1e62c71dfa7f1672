//! A job the window queued from a saved host whose password lives in the OS keyring is
//! finished by `skiff queue resume` with nobody at a terminal: the CLI offers the saved
//! host's keyring password (the engine's `KeyringFirst`) before it would ask. Without the
//! keyring entry the same resume fails as an authentication error (checked first), so the
//! password can only have come from the keyring. Needs root (a password user for sshd) and a
//! Secret Service (`make test` runs every test on a private, unlocked gnome-keyring).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;
use skiff_engine::engine::{Copy, Reach};
use skiff_engine::job::{Direction, JobState};
use skiff_engine::ssh::Account;
use skiff_engine::store::profiles::{AuthKind, Profile, Profiles};
use skiff_engine::store::secrets::{SecretKind, Secrets};
use skiff_engine::store::Queue;
use skiff_tests::sshd::{Sshd, SshdOptions};

const PASSWORD: &str = "kept-in-the-keyring";

fn skiff_queue(home: &Path, config_dir: &Path, db: &Path, args: &[&str]) -> Output {
    Command::new(skiff_bin())
        .arg("queue")
        .args(args)
        .env("HOME", home)
        .env("SKIFF_CONFIG_DIR", config_dir)
        .env("SKIFF_QUEUE_DB", db)
        .env_remove("SKIFF_SSH_CONFIG")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SKIFF_PASSWORD")
        .env_remove("SKIFF_PASSPHRASE")
        .stdin(Stdio::null())
        .output()
        .expect("run skiff")
}

/// Removes the test's keyring entry however the test ends.
struct Forget(Account);

impl Drop for Forget {
    fn drop(&mut self) {
        let _ = Secrets::new().delete(&self.0, SecretKind::Password);
    }
}

#[test]
fn a_saved_hosts_keyring_password_logs_in_the_job_skiff_queue_resume_finishes() {
    let sshd = Sshd::start_with(SshdOptions { password: Some(PASSWORD.into()), ..Default::default() }).unwrap();
    let home = tempfile::tempdir().unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    let db = home.path().join("queue.sqlite3");
    let profile = Profiles::open(config_dir.path())
        .unwrap()
        .save(Profile {
            id: String::new(),
            name: "password in the keyring".into(),
            host: "127.0.0.1".into(),
            port: sshd.port,
            user: sshd.user.clone(),
            auth: AuthKind::Password,
            key_path: None,
            local_start: None,
            remote_start: None,
            known_hosts: Some(sshd.known_hosts.clone()),
        })
        .unwrap();
    let src = sshd.root.join("report.txt");
    std::fs::write(&src, b"what the window queued\n".repeat(1000)).unwrap();
    let dest = home.path().join("report.txt");
    let queue = Queue::open(&db).unwrap();
    let spec = Copy::new(Direction::Download, &dest, s(&src), false).spec(&Reach::Profile(profile));
    let id = queue.add(&spec, 0).unwrap();

    // No keyring entry yet: nobody can type the password, so the login fails.
    let account = Account::new(sshd.user.clone(), "127.0.0.1", sshd.port);
    let _forget = Forget(account.clone());
    let _ = Secrets::new().delete(&account, SecretKind::Password);
    let o = skiff_queue(home.path(), config_dir.path(), &db, &["resume", "-q"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "without the keyring entry the resume must fail as auth: {err}");
    assert_eq!(queue.get(id).unwrap().unwrap().state, JobState::Failed);

    // The window saved the password ("remember"): the same job now finishes.
    Secrets::new().set(&account, SecretKind::Password, PASSWORD).expect("a Secret Service (run under make test)");
    let retry = skiff_queue(home.path(), config_dir.path(), &db, &["retry", &id.to_string()]);
    assert!(retry.status.success(), "{}", String::from_utf8_lossy(&retry.stderr));
    let o = skiff_queue(home.path(), config_dir.path(), &db, &["resume", "-q"]);
    assert!(o.status.success(), "skiff queue resume: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&dest).unwrap(), std::fs::read(&src).unwrap());
    assert_eq!(queue.get(id).unwrap().unwrap().state, JobState::Done);
}
