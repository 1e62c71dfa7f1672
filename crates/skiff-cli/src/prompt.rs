//! The terminal [`Prompter`]: asks on the controlling terminal with echo off. Scripts and
//! tests may pre-supply secrets in `SKIFF_PASSWORD` / `SKIFF_PASSPHRASE` (like `sshpass -e`);
//! nothing is ever written to disk or printed.
//!
//! `SKIFF_PASSWORD` belongs to the target only (the `user@host:port` named on the command
//! line): a ProxyJump host is never offered it, and asks on the terminal for its own
//! password, naming its own `user@host:port`. Secrets are wiped from memory when dropped.

use std::io::IsTerminal;
use std::path::Path;

use futures::future::BoxFuture;
use skiff_engine::ssh::{is_password_round, Account, HostKeyDecision, InteractivePrompt, Prompter, Secret, UnknownHostKey, Zeroizing};
use skiff_engine::text;

pub struct TerminalPrompter {
    /// The account `SKIFF_PASSWORD` belongs to: the target's.
    target: Account,
    password: Option<Secret>,
    passphrase: Option<Secret>,
    interactive: bool,
}

impl TerminalPrompter {
    /// `SKIFF_PASSWORD` is kept for `target` only.
    pub fn from_env(target: Account) -> Self {
        TerminalPrompter {
            target,
            password: std::env::var("SKIFF_PASSWORD").ok().map(Zeroizing::new),
            passphrase: std::env::var("SKIFF_PASSPHRASE").ok().map(Zeroizing::new),
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    /// `SKIFF_PASSWORD`, if `account` is the target.
    fn env_password(&self, account: &Account) -> Option<Secret> {
        self.password.clone().filter(|_| *account == self.target)
    }

    fn ask_hidden(&self, prompt: &str) -> Option<Secret> {
        if !self.interactive {
            return None;
        }
        rpassword::prompt_password(prompt).ok().map(Zeroizing::new)
    }

    fn ask_line(&self, prompt: &str) -> Option<String> {
        if !self.interactive {
            return None;
        }
        eprint!("{prompt}");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).ok()?;
        Some(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

impl Prompter for TerminalPrompter {
    fn password<'a>(&'a self, account: &'a Account, attempt: usize) -> BoxFuture<'a, Option<Secret>> {
        Box::pin(async move {
            // Offered once: a rejected SKIFF_PASSWORD is not sent again.
            if attempt == 1 {
                if let Some(p) = self.env_password(account) {
                    return Some(p);
                }
            }
            let prompt = format!("{account}'s password: ");
            tokio::task::block_in_place(|| self.ask_hidden(&prompt))
        })
    }

    fn passphrase<'a>(&'a self, _account: &'a Account, key_path: &'a Path) -> BoxFuture<'a, Option<Secret>> {
        Box::pin(async move {
            // A passphrase only unlocks a local key file; it is never sent to a server.
            if let Some(p) = &self.passphrase {
                return Some(p.clone());
            }
            let prompt = format!("Enter passphrase for key '{}': ", key_path.display());
            tokio::task::block_in_place(|| self.ask_hidden(&prompt))
        })
    }

    fn keyboard_interactive<'a>(
        &'a self,
        account: &'a Account,
        name: &'a str,
        instructions: &'a str,
        prompts: &'a [InteractivePrompt],
    ) -> BoxFuture<'a, Option<Vec<Secret>>> {
        Box::pin(async move {
            if is_password_round(prompts) {
                if let Some(p) = self.env_password(account) {
                    return Some(vec![p]);
                }
            }
            if !self.interactive {
                return if prompts.is_empty() { Some(vec![]) } else { None };
            }
            // Name, instructions and prompts are the server's words: escaped before they
            // reach the terminal (the instructions may span lines).
            tokio::task::block_in_place(|| {
                if !name.is_empty() {
                    eprintln!("{}", text::escape(name));
                }
                if !instructions.is_empty() {
                    eprintln!("{}", text::escape_multiline(instructions));
                }
                eprintln!("({account})");
                prompts
                    .iter()
                    .map(|p| {
                        let shown = text::escape(&p.text);
                        if p.echo { self.ask_line(&shown).map(Zeroizing::new) } else { self.ask_hidden(&shown) }
                    })
                    .collect()
            })
        })
    }

    fn unknown_host_key<'a>(&'a self, key: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision> {
        Box::pin(async move {
            let prompt = host_key_question(key);
            match tokio::task::block_in_place(|| self.ask_line(&prompt)).as_deref() {
                Some("yes") | Some("y") => HostKeyDecision::TrustAndSave,
                _ => HostKeyDecision::Reject,
            }
        })
    }
}

/// The host-key question: OpenSSH's wording, and for a host known by a key of another type,
/// what is known and what the server offered instead.
fn host_key_question(key: &UnknownHostKey) -> String {
    let mut q = format!("The authenticity of host '{}' (port {}) can't be established.\n", key.host, key.port);
    if key.other_known.is_empty() {
        q.push_str(&format!("{} key fingerprint is {}.\n", key.key_type, key.fingerprint));
    } else {
        let known: Vec<String> = key
            .other_known
            .iter()
            .map(|k| format!("{} key {} ({} line {})", k.key_type, k.fingerprint, k.path.display(), k.line))
            .collect();
        q.push_str(&format!(
            "WARNING: another key type is known for this host: {};\nthe server offered {} key {} instead, which is not in known_hosts.\n\
             A server that hides the key you know may be an impostor: check this fingerprint with its administrator.\n",
            known.join(", "),
            key.key_type,
            key.fingerprint
        ));
    }
    q.push_str("Are you sure you want to continue connecting (yes/no)? ");
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_engine::ssh::KnownKey;

    fn key(other_known: Vec<KnownKey>) -> UnknownHostKey {
        UnknownHostKey {
            host: "h".into(),
            port: 2222,
            key_type: "ssh-ed25519".into(),
            fingerprint: "SHA256:new".into(),
            other_known,
        }
    }

    #[test]
    fn the_host_key_question_says_when_another_type_is_known() {
        let plain = host_key_question(&key(vec![]));
        assert!(plain.contains("ssh-ed25519 key fingerprint is SHA256:new"), "{plain}");
        assert!(!plain.contains("another key type"), "{plain}");
        let other = host_key_question(&key(vec![KnownKey {
            key_type: "ssh-rsa".into(),
            fingerprint: "SHA256:old".into(),
            path: "/kh".into(),
            line: 3,
        }]));
        assert!(
            other.contains("another key type is known for this host: ssh-rsa key SHA256:old (/kh line 3)"),
            "{other}"
        );
        assert!(other.contains("the server offered ssh-ed25519 key SHA256:new"), "{other}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn skiff_password_goes_to_the_target_only() {
        let target = Account::new("u", "target", 22);
        let p = TerminalPrompter {
            target: target.clone(),
            password: Some(Zeroizing::new("pw".into())),
            passphrase: None,
            interactive: false,
        };
        assert_eq!(p.password(&target, 1).await.as_deref().map(String::as_str), Some("pw"));
        // Not again after a rejection, never to a jump host.
        assert!(p.password(&target, 2).await.is_none());
        assert!(p.password(&Account::new("u", "jump", 22), 1).await.is_none());
        let hidden = [InteractivePrompt { text: "Password: ".into(), echo: false }];
        assert!(p.keyboard_interactive(&Account::new("u", "jump", 22), "", "", &hidden).await.is_none());
        assert_eq!(p.keyboard_interactive(&target, "", "", &hidden).await.map(|a| a.len()), Some(1));
        // SKIFF_PASSWORD is no answer to a one-time code.
        let code = [InteractivePrompt { text: "Verification code: ".into(), echo: false }];
        assert!(p.keyboard_interactive(&target, "", "", &code).await.is_none());
    }
}
