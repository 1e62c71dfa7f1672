//! The terminal [`Prompter`]: asks on the controlling terminal with echo off. Scripts and
//! tests may pre-supply secrets in `SKIFF_PASSWORD` / `SKIFF_PASSPHRASE` (like `sshpass -e`);
//! nothing is ever written to disk or printed.

use std::io::IsTerminal;
use std::path::Path;

use futures::future::BoxFuture;
use skiff_engine::ssh::{HostKeyDecision, InteractivePrompt, Prompter, UnknownHostKey};
use skiff_engine::text;

pub struct TerminalPrompter {
    password: Option<String>,
    passphrase: Option<String>,
    interactive: bool,
}

impl TerminalPrompter {
    pub fn from_env() -> Self {
        TerminalPrompter {
            password: std::env::var("SKIFF_PASSWORD").ok(),
            passphrase: std::env::var("SKIFF_PASSPHRASE").ok(),
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    fn ask_hidden(&self, prompt: &str) -> Option<String> {
        if !self.interactive {
            return None;
        }
        rpassword::prompt_password(prompt).ok()
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
    fn password<'a>(&'a self, user: &'a str, host: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            if let Some(p) = &self.password {
                return Some(p.clone());
            }
            let prompt = format!("{user}@{host}'s password: ");
            tokio::task::block_in_place(|| self.ask_hidden(&prompt))
        })
    }

    fn passphrase<'a>(&'a self, key_path: &'a Path) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            if let Some(p) = &self.passphrase {
                return Some(p.clone());
            }
            let prompt = format!("Enter passphrase for key '{}': ", key_path.display());
            tokio::task::block_in_place(|| self.ask_hidden(&prompt))
        })
    }

    fn keyboard_interactive<'a>(
        &'a self,
        name: &'a str,
        instructions: &'a str,
        prompts: &'a [InteractivePrompt],
    ) -> BoxFuture<'a, Option<Vec<String>>> {
        Box::pin(async move {
            if prompts.len() == 1 && !prompts[0].echo {
                if let Some(p) = &self.password {
                    return Some(vec![p.clone()]);
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
                prompts
                    .iter()
                    .map(|p| {
                        let shown = text::escape(&p.text);
                        if p.echo { self.ask_line(&shown) } else { self.ask_hidden(&shown) }
                    })
                    .collect()
            })
        })
    }

    fn unknown_host_key<'a>(&'a self, key: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision> {
        Box::pin(async move {
            let prompt = format!(
                "The authenticity of host '{}' (port {}) can't be established.\n{} key fingerprint is {}.\nAre you sure you want to continue connecting (yes/no)? ",
                key.host, key.port, key.key_type, key.fingerprint
            );
            match tokio::task::block_in_place(|| self.ask_line(&prompt)).as_deref() {
                Some("yes") | Some("y") => HostKeyDecision::TrustAndSave,
                _ => HostKeyDecision::Reject,
            }
        })
    }
}
