use super::*;
use crate::events::{forward, UiSink};

/// Answers every password question with "typed-for-ACCOUNT" (remember on) and records the
/// questions.
struct Answerer {
    broker: Arc<PromptBroker>,
    asked: Arc<Mutex<Vec<Prompt>>>,
}

impl UiSink for Answerer {
    fn deliver(&self, event: UiEvent) -> bool {
        if let UiEvent::Prompt { prompt } = event {
            self.asked.lock().unwrap().push(prompt.clone());
            let id = prompt_id(&prompt);
            let answer = match prompt {
                Prompt::HostKeyUnknown { .. } => PromptAnswer::HostKey {
                    id,
                    decision: crate::ipc::HostKeyChoice::TrustOnce,
                },
                Prompt::Password { account, .. } | Prompt::Passphrase { account, .. } => {
                    PromptAnswer::Secret {
                        id,
                        value: Some(format!("typed-for-{account}")),
                        remember: true,
                    }
                }
                Prompt::KeyboardInteractive { account, .. } => PromptAnswer::Interactive {
                    id,
                    answers: Some(vec![format!("answer-for-{account}")]),
                },
            };
            let broker = self.broker.clone();
            // Answer from elsewhere, as the window would.
            tokio::spawn(async move { broker.answer(answer).unwrap() });
        }
        true
    }
}

fn target() -> Account {
    Account::new("alice", "h", 22)
}

fn jump() -> Account {
    Account::new("alice", "jump", 2222)
}

fn setup(mode: Mode) -> (Arc<GuiPrompter>, Arc<Mutex<Vec<Prompt>>>, KnownSecrets) {
    let (hub, rx) = EventHub::new();
    tokio::spawn(forward(rx));
    let broker = Arc::new(PromptBroker::default());
    let asked = Arc::new(Mutex::new(Vec::new()));
    hub.subscribe(Answerer {
        broker: broker.clone(),
        asked: asked.clone(),
    });
    let known = KnownSecrets::default();
    known.set(&target(), SecretKind::Password, Zeroizing::new("stored".into()));
    // Not a saved host: nothing is read from the OS keyring in tests.
    let ctx = PromptContext {
        hub,
        broker,
        secrets: Secrets::with_service("skiff-test"),
        known: known.clone(),
    };
    let login = LoginFor {
        target: target(),
        saved: false,
    };
    let p = GuiPrompter::new(ctx, mode, login);
    (p, asked, known)
}

fn text(s: Option<Secret>) -> Option<String> {
    s.map(|s| s.as_str().to_owned())
}

#[tokio::test]
async fn connect_mode_offers_the_stored_secret_once_then_asks() {
    let (p, asked, _) = setup(Mode::Connect);
    assert_eq!(text(p.password(&target(), 1).await).as_deref(), Some("stored"));
    assert!(asked.lock().unwrap().is_empty());
    assert_eq!(
        text(p.password(&target(), 2).await).as_deref(),
        Some("typed-for-alice@h:22")
    );
    match &asked.lock().unwrap()[0] {
        Prompt::Password {
            account, jump_host, port, ..
        } => {
            assert_eq!(account, "alice@h:22");
            assert_eq!(*port, 22);
            assert!(!jump_host);
        }
        other => panic!("{other:?}"),
    }
    let typed = p.typed();
    assert_eq!(typed.len(), 1);
    assert_eq!(typed[0].account, target());
    // Without a saved host there is nowhere to remember it.
    assert!(!typed[0].remember);
    let given = p.given();
    assert_eq!(given.len(), 1);
    assert_eq!(given[0].0, target());
    assert_eq!(given[0].2.as_str(), "typed-for-alice@h:22");
    // A lone "Password:" keyboard-interactive prompt is a password question.
    let kbd = [InteractivePrompt {
        text: "Password: ".into(),
        echo: false,
    }];
    assert_eq!(
        p.keyboard_interactive(&target(), "", "", &kbd)
            .await
            .map(|a| a.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()),
        Some(vec!["typed-for-alice@h:22".to_string()])
    );
    assert_eq!(
        p.unknown_host_key(&UnknownHostKey {
            host: "h".into(),
            port: 22,
            key_type: "ssh-ed25519".into(),
            fingerprint: "SHA256:x".into(),
            other_known: vec![],
        })
        .await,
        HostKeyDecision::TrustOnce
    );
}

#[tokio::test]
async fn reuse_mode_asks_at_most_once() {
    let (p, asked, known) = setup(Mode::Reuse);
    known.forget(&target());
    for attempt in 1..=3 {
        assert_eq!(
            text(p.password(&target(), attempt).await).as_deref(),
            Some("typed-for-alice@h:22")
        );
    }
    assert_eq!(asked.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_jump_host_is_never_offered_the_targets_secret() {
    for mode in [Mode::Connect, Mode::Reuse] {
        let (p, asked, known) = setup(mode);
        // The jump host's question names the jump host and says it is one; the target's
        // stored password is not offered to it.
        assert_eq!(
            text(p.password(&jump(), 1).await).as_deref(),
            Some("typed-for-alice@jump:2222"),
            "{mode:?}"
        );
        match &asked.lock().unwrap()[..] {
            [Prompt::Password {
                account,
                host,
                port,
                jump_host,
                ..
            }] => {
                assert_eq!(
                    (account.as_str(), host.as_str(), *port, *jump_host),
                    ("alice@jump:2222", "jump", 2222, true)
                );
            }
            other => panic!("{mode:?}: {other:?}"),
        }
        // A lone "Password:" from the jump host's keyboard-interactive: its own password.
        let kbd = [InteractivePrompt {
            text: "Password: ".into(),
            echo: false,
        }];
        let answers = p.keyboard_interactive(&jump(), "", "", &kbd).await.unwrap();
        assert_ne!(answers[0].as_str(), "stored", "{mode:?}");
        // The target still gets its own, not what was typed for the jump host.
        assert_eq!(
            text(p.password(&target(), 1).await).as_deref(),
            Some("stored"),
            "{mode:?}"
        );
        // Other questions of the jump host name it too.
        let other = [InteractivePrompt {
            text: "Code: ".into(),
            echo: true,
        }];
        let a = p.keyboard_interactive(&jump(), "", "", &other).await.unwrap();
        assert_eq!(a[0].as_str(), "answer-for-alice@jump:2222");
        assert_eq!(
            text(p.passphrase(&jump(), Path::new("/k")).await).as_deref(),
            Some("typed-for-alice@jump:2222")
        );
        // What was typed and given is kept per account: the caller remembers each
        // under its own account, never the jump host's under the target.
        for t in p.typed() {
            assert_eq!(t.account, jump(), "{mode:?}: {t:?}");
        }
        let mut given: Vec<(String, SecretKind, String)> = p
            .given()
            .into_iter()
            .map(|(a, k, s)| (a.to_string(), k, s.as_str().to_owned()))
            .collect();
        given.sort_by(|a, b| a.0.cmp(&b.0).then(kind_key(a.1).cmp(kind_key(b.1))));
        assert_eq!(
            given,
            vec![
                ("alice@h:22".into(), SecretKind::Password, "stored".into()),
                (
                    "alice@jump:2222".into(),
                    SecretKind::Passphrase,
                    "typed-for-alice@jump:2222".into()
                ),
                (
                    "alice@jump:2222".into(),
                    SecretKind::Password,
                    "typed-for-alice@jump:2222".into()
                ),
            ],
            "{mode:?}"
        );
        // A secret known for the jump host is offered to it, and only to it.
        known.forget(&target());
        let (p2, asked2, _) = {
            let (p2, asked2, k2) = setup(mode);
            k2.forget(&target());
            k2.set(&jump(), SecretKind::Password, Zeroizing::new("jump-pw".into()));
            (p2, asked2, k2)
        };
        assert_eq!(text(p2.password(&jump(), 1).await).as_deref(), Some("jump-pw"));
        assert_eq!(
            text(p2.password(&target(), 1).await).as_deref(),
            Some("typed-for-alice@h:22")
        );
        assert_eq!(asked2.lock().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn another_key_type_known_reaches_the_window() {
    let (p, asked, _) = setup(Mode::Connect);
    let key = UnknownHostKey {
        host: "h".into(),
        port: 22,
        key_type: "ssh-ed25519".into(),
        fingerprint: "SHA256:new".into(),
        other_known: vec![skiff_engine::ssh::KnownKey {
            key_type: "ssh-rsa".into(),
            fingerprint: "SHA256:old".into(),
            path: "/kh".into(),
            line: 4,
        }],
    };
    p.unknown_host_key(&key).await;
    match &asked.lock().unwrap()[..] {
        [Prompt::HostKeyUnknown { other_known, .. }] => assert_eq!(
            other_known,
            &vec![KnownHostKey {
                key_type: "ssh-rsa".into(),
                fingerprint: "SHA256:old".into(),
                file: "/kh".into(),
                line: 4
            }]
        ),
        other => panic!("{other:?}"),
    };
}

#[tokio::test]
async fn answers_must_match_an_open_question() {
    let broker = PromptBroker::default();
    let e = broker
        .answer(PromptAnswer::Secret {
            id: 9,
            value: None,
            remember: false,
        })
        .unwrap_err();
    assert_eq!(e.code, crate::ipc::ErrorCode::NotFound);
    assert!(!format!("{e:?}").contains("typed"));
}
