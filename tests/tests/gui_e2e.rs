//! GUI end-to-end test: the real Skiff window (`skiff-app`), driven like a person would —
//! clicks, typing and keys — through tauri-driver + WebKitWebDriver, against a real OpenSSH
//! server with password authentication, a real Secret Service and a private HOME.
//!
//! Run it (it needs root for the password user, a display and a session bus; `make test`
//! provides all of them):
//!
//! ```sh
//! make test-e2e
//! # or, with the app already built:
//! SKIFF_APP=$CARGO_TARGET_DIR/release/skiff-app tests/gui-session.sh test \
//!     cargo test --release -p skiff-tests --test gui_e2e -- --nocapture
//! ```
//!
//! Each step ends with a screenshot in `$CARGO_TARGET_DIR/e2e-screenshots/NN-step.png`;
//! `SKIFF_UPDATE_SCREENSHOTS=1` refreshes `docs/screenshots/` from them. A failed step does not
//! stop the ones that do not depend on it; the test fails at the end, naming every failed
//! step and its screenshot. `SKIFF_E2E_STEPS=welcome,add-host,connect,small-files-responsive`
//! runs only the steps named (list the steps a step needs, too).

mod gui;
mod gui_steps;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::key::Key;
use gui::{row, tid, AppEnv, Gui, Report, Tools, UI_TIMEOUT};
use skiff_tests::sshd::{Sshd, SshdOptions, PASSWORD_USER};
use skiff_tests::tree::{make_tree, manifest, manifest_diff, manifest_files, TreeSpec};

/// The fixture user's password; distinctive, so a leak into a file is found by grep.
const PASSWORD: &str = "Skiff-e2e-Pw-7341-qz";
const HOST_NAME: &str = "E2E server";
const BIG_FOLDER_ENTRIES: usize = 100_000;
const MANY_JOBS: usize = 1_000;
/// What the test accepts for "first rows of a 100,000-entry folder" (the README's target is 1 s).
const FIRST_ROWS_LIMIT_MS: f64 = 3000.0;
/// The "10,000 small files move" step: its tree, and what it accepts for the window's
/// responsiveness meanwhile (generous: the CI machine is small, shared and noisy).
const SMALL_FILES: usize = 10_000;
const SMALL_FILES_DIR: &str = "small-10k";
/// A click in the queue panel (a filter tab) → the DOM shows it → the next frame: what 9 in 10
/// clicks stay under, and what none may reach.
///
/// The limits judge what a person feels (most clicks and most frames), not the single slowest
/// sample: the window gets 6–13 frames a second under Xvfb's software GL on a 2-core machine
/// that also runs the transfer and its sshd, a transfer of 4–6 s gives only 18–57 gaps and
/// 10–14 clicks, and one of them lands on whatever else the shared machine does (CI runs saw
/// a lone 536 ms click and a lone 700 ms frame among ones of 100–300 ms).
const INPUT_LATENCY_P90_LIMIT_MS: f64 = 500.0;
const INPUT_LATENCY_MAX_LIMIT_MS: f64 = 1000.0;
/// The 90th percentile of the gaps between animation frames (at rest they are 16.7 ms; while
/// the files move, measured 220–400 ms).
const FRAME_GAP_P90_LIMIT_MS: f64 = 500.0;
/// No frame gap as long as this: the window never freezes.
const FRAME_GAP_MAX_LIMIT_MS: f64 = 1000.0;

struct World {
    sshd: Sshd,
    env: AppEnv,
    /// Local side: `upload-tree/`, `many/`, `downloads/`.
    local: tempfile::TempDir,
    fingerprint: String,
    host_id: Option<String>,
    /// (line number, the line) "trust and save" wrote into known_hosts.
    known_hosts_line: Option<(usize, String)>,
}

impl World {
    fn remote_root(&self) -> &Path {
        &self.sshd.root
    }
    fn local_root(&self) -> &Path {
        self.local.path()
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn expected_fingerprint(host_key: &Path) -> Result<String> {
    let mut pubkey = host_key.as_os_str().to_owned();
    pubkey.push(".pub");
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&pubkey)
        .output()
        .context("ssh-keygen -lf")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .map(str::to_string)
        .with_context(|| format!("no SHA256 fingerprint in `ssh-keygen -lf` output: {text:?}"))
}

fn set_up_files(sshd: &Sshd, local: &Path) -> Result<()> {
    let r = &sshd.root;
    std::fs::write(r.join("hello.txt"), b"hello from the server\n")?;
    std::fs::create_dir(r.join("sub"))?;
    std::fs::write(r.join("sub/inner.txt"), b"inside sub\n")?;
    skiff_tests::write_random_file(r.join("download-me.bin"), 256 * 1024 + 17, 42)?;
    std::fs::create_dir(r.join("many-dest"))?;
    let big = r.join("big");
    std::fs::create_dir(&big)?;
    for i in 0..BIG_FOLDER_ENTRIES {
        std::fs::File::create(big.join(format!("big-{i:06}")))?;
    }
    // The password user writes uploads into these.
    for d in ["many-dest", "sub"] {
        let p = r.join(d);
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o777))?;
    }

    make_tree(
        &local.join("upload-tree"),
        &TreeSpec {
            files: 40,
            dirs: 4,
            min_size: 0,
            max_size: 64 * 1024,
            seed: 7,
            depth: 3,
            awkward_names: false,
            big_files: vec![],
        },
    )?;
    let many = local.join("many");
    std::fs::create_dir(&many)?;
    for i in 0..MANY_JOBS {
        std::fs::write(
            many.join(format!("tiny-{i:04}.txt")),
            format!("tiny file {i}\n"),
        )?;
    }
    std::fs::create_dir(local.join("downloads"))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gui_end_to_end() {
    let tools = Tools::find();
    assert!(
        is_root(),
        "the GUI end-to-end test needs root (sshd password authentication uses the local user `skifftest`): run it as root"
    );
    match tokio::time::timeout(Duration::from_secs(25 * 60), run(tools)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e:#}"),
        Err(_) => panic!("the GUI end-to-end test took over 25 minutes"),
    }
}

async fn run(tools: Tools) -> Result<()> {
    let t0 = Instant::now();
    let sshd = Sshd::start_with(SshdOptions {
        password: Some(PASSWORD.into()),
        ..Default::default()
    })?;
    assert_eq!(sshd.user, PASSWORD_USER);
    let local = tempfile::Builder::new()
        .prefix("skiff-gui-local-")
        .tempdir()?;
    set_up_files(&sshd, local.path())?;
    let fingerprint = expected_fingerprint(&sshd.host_key)?;
    let env = AppEnv::new()?;
    eprintln!(
        "sshd on port {} (user {}, host key {fingerprint}); app HOME {}; fixtures ready in {:.1} s",
        sshd.port,
        sshd.user,
        env.home.display(),
        t0.elapsed().as_secs_f64()
    );
    let mut w = World {
        sshd,
        env,
        local,
        fingerprint,
        host_id: None,
        known_hosts_line: None,
    };

    let mut gui = Gui::launch(&tools, &w.env)
        .await
        .context("starting the app through tauri-driver")?;
    let mut report = Report::default();

    // SKIFF_E2E_STEPS=welcome,add-host,connect,... runs only those steps (to work on one);
    // the rest are left out of the report, and a step whose need is left out does not run.
    let only: Option<Vec<String>> = std::env::var("SKIFF_E2E_STEPS")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    macro_rules! step {
        ($name:expr, needs [$($dep:expr),*], $body:expr) => {{
            let deps: &[&str] = &[$($dep),*];
            if only.as_ref().is_some_and(|o| !o.iter().any(|s| s == $name)) {
                eprintln!("STEP {}: left out (SKIFF_E2E_STEPS)", $name);
            } else if let Some(d) = deps.iter().find(|d| !report.passed(d)) {
                gui.skip(&mut report, $name, d);
            } else {
                let started = Instant::now();
                let r = $body.await;
                gui.finish(&mut report, $name, started, r).await;
            }
        }};
    }

    step!("welcome", needs [], welcome(&gui));
    step!("add-host", needs [], add_host(&gui, &mut w));
    step!("connect", needs["add-host"], connect(&gui, &mut w));
    step!("browse", needs["connect"], browse(&gui, &w));
    step!("upload-folder", needs["connect"], upload_folder(&gui, &w));
    step!("download-file", needs["connect"], download_file(&gui, &w));
    step!(
        "password-in-keyring-only",
        needs["add-host"],
        password_in_keyring_only(&w)
    );
    step!("big-folder", needs["connect"], big_folder(&gui, &w));
    step!("many-jobs", needs["connect"], many_jobs(&gui, &w));
    step!(
        "small-files-responsive",
        needs["connect"],
        small_files_responsive(&gui, &w)
    );
    step!("os-drop-upload", needs["connect"], os_drop_upload(&gui, &w));
    step!(
        "pause-resume-relay",
        needs["connect"],
        gui_steps::pause_resume::pause_resume_relay(&gui, &w)
    );
    step!(
        "hostkey-changed",
        needs["connect"],
        hostkey_changed(&mut gui, &w)
    );

    eprintln!(
        "\nGUI end-to-end steps ({:.0} s):\n{}",
        t0.elapsed().as_secs_f64(),
        report.summary()
    );
    eprintln!("screenshots: {}", gui.shots.dir.display());
    gui.shots.publish_if_asked()?;
    let failures = report.failures();
    let driver_log = gui.driver_log();
    gui.quit().await;
    if !failures.is_empty() {
        let tail: String = {
            let lines: Vec<&str> = driver_log.lines().collect();
            lines[lines.len().saturating_sub(60)..].join("\n")
        };
        bail!(
            "{} GUI step(s) failed:\n{}\n--- last lines of the tauri-driver/app log ---\n{tail}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Steps

async fn welcome(gui: &Gui) -> Result<String> {
    gui.testid("welcome").await?;
    let title = gui.client.title().await.unwrap_or_default();
    Ok(format!("title {title:?}"))
}

async fn add_host(gui: &Gui, w: &mut World) -> Result<String> {
    // From the welcome view if it is there, else the host list's own button.
    if !gui.all(&tid("welcome-add-host")).await?.is_empty() {
        gui.click("welcome-add-host").await?;
    } else {
        gui.click("add-host").await?;
    }
    gui.testid("host-editor").await?;
    gui.fill("host-name", HOST_NAME).await?;
    gui.fill("host-host", "127.0.0.1").await?;
    gui.fill("host-port", &w.sshd.port.to_string()).await?;
    gui.fill("host-user", &w.sshd.user).await?;
    gui.select("host-auth", "password").await?;
    gui.fill("host-secret", PASSWORD).await?;
    gui.shot("host-editor-filled").await;
    gui.click("host-save").await?;
    gui.wait_gone(&tid("host-editor"), UI_TIMEOUT)
        .await
        .context("the host editor stays open after host-save")?;
    let items_css = format!("{} {}", tid("host-list"), tid("host-item"));
    let found = gui
        .poll("the new host in host-list", UI_TIMEOUT, || async {
            for e in gui.all(&items_css).await? {
                if gui.text_of(&e).await?.contains(HOST_NAME) {
                    return Ok(Some(e));
                }
            }
            Ok(None)
        })
        .await;
    let item = match found {
        Ok(item) => item,
        Err(e) => {
            let seen = gui
                .js("return Array.from(document.querySelectorAll(arguments[0])).map(e => e.outerHTML.slice(0, 300))", vec![items_css.clone().into()])
                .await
                .unwrap_or_default();
            let texts = gui.texts(&items_css).await.unwrap_or_default();
            bail!("{e:#}; host items: {seen}; WebDriver texts: {texts:?}");
        }
    };
    w.host_id = item.attr("data-host-id").await?;
    Ok(format!("host id {:?}", w.host_id))
}

/// Click "connect" for our saved host.
async fn click_connect(gui: &Gui, w: &World) -> Result<()> {
    let item_css = match &w.host_id {
        Some(id) => format!("{}[data-host-id=\"{id}\"]", tid("host-item")),
        None => tid("host-item"),
    };
    let scoped = format!("{item_css} {}", tid("host-connect"));
    if !gui.all(&scoped).await?.is_empty() {
        return gui.click_css(&scoped).await;
    }
    // A toolbar button that acts on the selected host.
    gui.click_css(&item_css).await?;
    gui.click("host-connect").await
}

async fn connection_text(gui: &Gui) -> String {
    gui.texts(&tid("connection-status"))
        .await
        .unwrap_or_default()
}

fn says_connected(status: &str) -> bool {
    let s = status.to_lowercase();
    s.contains("connected") && !s.contains("disconnected") && !s.contains("not connected")
}

async fn goto_path(gui: &Gui, pane: &str, path: &Path) -> Result<()> {
    let input = gui
        .wait_for(&format!("{} {}", tid(pane), tid("path-input")), UI_TIMEOUT)
        .await?;
    gui.fill_el(&input, &path.display().to_string()).await?;
    gui.press(Key::Enter).await
}

async fn wait_row(gui: &Gui, pane: &str, name: &str) -> Result<fantoccini::elements::Element> {
    gui.wait_for(&row(pane, name), UI_TIMEOUT)
        .await
        .with_context(|| format!("{pane} shows no row {name:?}"))
}

async fn connect(gui: &Gui, w: &mut World) -> Result<String> {
    click_connect(gui, w).await?;
    let dialog = gui
        .testid("hostkey-dialog")
        .await
        .context("no hostkey-dialog for the unknown server key")?;
    let fp = gui
        .text_of(&gui.testid("hostkey-fingerprint").await?)
        .await?;
    if !fp.contains(&w.fingerprint) {
        bail!("hostkey-fingerprint shows {fp:?}, want {}", w.fingerprint);
    }
    let _ = dialog;
    gui.shot("hostkey-dialog").await;
    gui.click("hostkey-trust-save").await?;

    // Connected, without being asked for the saved password.
    let prompted = std::cell::Cell::new(false);
    let status = gui
        .poll(
            "connection-status to say connected",
            Duration::from_secs(30),
            || async {
                if !gui.all(&tid("prompt-dialog")).await?.is_empty() {
                    // The saved password was not used. Answer, so later steps can run, but fail.
                    prompted.set(true);
                    gui.shot("unexpected-password-prompt").await;
                    gui.fill("prompt-input", PASSWORD).await?;
                    gui.click("prompt-ok").await?;
                }
                let s = connection_text(gui).await;
                Ok(says_connected(&s).then_some(s))
            },
        )
        .await?;

    // "Trust and save" wrote the key into the test HOME's known_hosts.
    let kh = w.env.known_hosts();
    let text = std::fs::read_to_string(&kh)
        .with_context(|| format!("reading {} after trust-and-save", kh.display()))?;
    let key_b64 = w
        .sshd
        .host_key_pub_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let (idx, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(&key_b64))
        .with_context(|| {
            format!(
                "{} does not hold the server's key after trust-and-save:\n{text}",
                kh.display()
            )
        })?;
    w.known_hosts_line = Some((idx + 1, line.to_string()));

    // The remote pane, in the server's test folder.
    goto_path(gui, "pane-remote", w.remote_root()).await?;
    for name in ["hello.txt", "sub", "download-me.bin", "big"] {
        wait_row(gui, "pane-remote", name).await?;
    }
    let kind = gui
        .testid("pane-remote")
        .await?
        .find(fantoccini::Locator::Css(&row("pane-remote", "sub")))
        .await;
    let kind = match kind {
        Ok(e) => e.attr("data-kind").await?.unwrap_or_default(),
        Err(_) => String::new(),
    };
    if kind != "dir" {
        bail!("the row `sub` has data-kind={kind:?}, want \"dir\"");
    }
    if prompted.get() {
        bail!(
            "connecting asked for the password (prompt-dialog) although it was saved with the host"
        );
    }
    Ok(format!(
        "status {:?}; known_hosts line {}",
        status.trim(),
        idx + 1
    ))
}

async fn browse(gui: &Gui, w: &World) -> Result<String> {
    let mut problems = Vec::new();
    // Double click opens the folder; Backspace goes up.
    let sub = wait_row(gui, "pane-remote", "sub").await?;
    gui.double_click(&sub).await?;
    wait_row(gui, "pane-remote", "inner.txt")
        .await
        .context("double-clicking `sub` did not open it")?;
    gui.shot("remote-in-sub").await;
    let focus = gui.focused().await;
    gui.press(Key::Backspace).await?;
    if let Err(e) = wait_row(gui, "pane-remote", "hello.txt").await {
        problems.push(format!("Backspace after double-clicking into `sub` did not go back up (focus was on {focus}): {e:#}"));
        gui.shot("browse-backspace-after-double-click-FAILED").await;
        goto_path(gui, "pane-remote", w.remote_root()).await?;
        wait_row(gui, "pane-remote", "hello.txt").await?;
    }
    // Select + Enter opens it too; Backspace goes up.
    gui.click_css(&row("pane-remote", "sub")).await?;
    gui.press(Key::Enter).await?;
    wait_row(gui, "pane-remote", "inner.txt")
        .await
        .context("Enter on `sub` did not open it")?;
    let focus = gui.focused().await;
    gui.press(Key::Backspace).await?;
    if let Err(e) = wait_row(gui, "pane-remote", "hello.txt").await {
        problems.push(format!(
            "Backspace after Enter into `sub` did not go back up (focus was on {focus}): {e:#}"
        ));
        goto_path(gui, "pane-remote", w.remote_root()).await?;
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(String::new())
}

/// Find the job row whose text mentions `name`, then wait for it to finish.
async fn wait_job_done(gui: &Gui, name: &str, timeout: Duration) -> Result<String> {
    let job_id = gui
        .poll(&format!("a job-row for {name:?}"), UI_TIMEOUT, || async {
            for e in gui.all(&tid("job-row")).await? {
                if gui.text_of(&e).await?.contains(name) {
                    return Ok(Some(e.attr("data-job-id").await?.unwrap_or_default()));
                }
            }
            Ok(None)
        })
        .await?;
    let css = if job_id.is_empty() {
        tid("job-row")
    } else {
        format!("{}[data-job-id=\"{job_id}\"]", tid("job-row"))
    };
    let deadline = Instant::now() + timeout;
    loop {
        let el = gui.wait_for(&css, UI_TIMEOUT).await?;
        let state = el.attr("data-state").await?.unwrap_or_default();
        match state.as_str() {
            "done" => break,
            "failed" | "cancelled" => bail!(
                "job {job_id} ({name}) ended {state}: {}",
                gui.text_of(&el).await.unwrap_or_default()
            ),
            _ => {}
        }
        if !gui.all(&tid("overwrite-dialog")).await?.is_empty() {
            bail!("an overwrite-dialog appeared for job {job_id} ({name}), whose destination did not exist");
        }
        if Instant::now() > deadline {
            bail!(
                "job {job_id} ({name}) still {state:?} after {timeout:?}: {}",
                gui.text_of(&el).await.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let progress = gui
        .poll(
            "job-progress to read 100%",
            Duration::from_secs(5),
            || async {
                let el = gui
                    .wait_for(&format!("{css} {}", tid("job-progress")), UI_TIMEOUT)
                    .await?;
                let t = gui.text_of(&el).await?;
                Ok(t.contains("100%").then_some(t))
            },
        )
        .await?;
    Ok(format!("job {job_id} done, progress {:?}", progress.trim()))
}

async fn upload_folder(gui: &Gui, w: &World) -> Result<String> {
    goto_path(gui, "pane-remote", w.remote_root()).await?;
    wait_row(gui, "pane-remote", "hello.txt").await?;
    goto_path(gui, "pane-local", w.local_root()).await?;
    gui.click_css(&row("pane-local", "upload-tree")).await?;
    gui.press(Key::F5).await?;
    let note = wait_job_done(gui, "upload-tree", Duration::from_secs(120)).await?;
    let want = manifest(&w.local_root().join("upload-tree"))?;
    let got = manifest(&w.remote_root().join("upload-tree"))
        .context("the uploaded folder is not on the server")?;
    if let Some(d) = manifest_diff(&want, &got) {
        bail!("the server's copy differs from the local folder: {d}");
    }
    // The remote pane shows the new folder.
    wait_row(gui, "pane-remote", "upload-tree")
        .await
        .context("upload done, but the remote pane does not show it")?;
    Ok(format!(
        "{note}; {} entries identical on the server",
        want.len()
    ))
}

async fn download_file(gui: &Gui, w: &World) -> Result<String> {
    let dl = w.local_root().join("downloads");
    goto_path(gui, "pane-local", &dl).await?;
    gui.wait_for(
        &format!("{} {}", tid("pane-local"), tid("pane-status")),
        UI_TIMEOUT,
    )
    .await?;
    goto_path(gui, "pane-remote", w.remote_root()).await?;
    gui.click_css(&row("pane-remote", "download-me.bin"))
        .await?;
    gui.press(Key::F5).await?;
    let note = wait_job_done(gui, "download-me.bin", Duration::from_secs(120)).await?;
    let want = std::fs::read(w.remote_root().join("download-me.bin"))?;
    let got = std::fs::read(dl.join("download-me.bin"))
        .context("the downloaded file is not in the local folder")?;
    if want != got {
        bail!(
            "downloaded bytes differ ({} vs {} bytes)",
            got.len(),
            want.len()
        );
    }
    let shown = gui
        .wait_for(
            &row("pane-local", "download-me.bin"),
            Duration::from_secs(10),
        )
        .await
        .is_ok();
    Ok(format!(
        "{note}; {} bytes equal; local pane shows it: {shown}",
        got.len()
    ))
}

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn password_in_keyring_only(w: &World) -> Result<String> {
    // In the Secret Service, under service "skiff".
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", "skiff"])
        .output()
        .context("running secret-tool")?;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !all.contains(PASSWORD) {
        bail!("`secret-tool search --all service skiff` does not show the password:\n{all}");
    }
    if w.host_id.is_some() {
        // Secrets are kept per account (user@host:port), not per saved host.
        let account = format!("password:{PASSWORD_USER}@127.0.0.1:{}", w.sshd.port);
        let out = Command::new("secret-tool").args(["lookup", "service", "skiff", "username", &account]).output()?;
        let got = String::from_utf8_lossy(&out.stdout);
        if got.trim_end_matches('\n') != PASSWORD {
            bail!("secret-tool lookup service skiff username {account} gives {got:?}");
        }
    }
    // In no file of the app's config folder, nor beside its queue database.
    let mut checked = 0;
    let mut leaks = Vec::new();
    let mut files = files_under(&w.env.config_dir);
    files.extend(files_under(w.env.queue_db.parent().unwrap()));
    if files.is_empty() {
        bail!(
            "the app wrote no file under SKIFF_CONFIG_DIR {} (where is the host saved?)",
            w.env.config_dir.display()
        );
    }
    for f in &files {
        checked += 1;
        if contains(&std::fs::read(f)?, PASSWORD.as_bytes()) {
            leaks.push(f.display().to_string());
        }
    }
    // The rest of the app's HOME (WebKit's storage and caches) is reported, not judged.
    let home_hits: Vec<String> = files_under(&w.env.home)
        .into_iter()
        .filter(|f| {
            std::fs::read(f)
                .map(|b| contains(&b, PASSWORD.as_bytes()))
                .unwrap_or(false)
        })
        .map(|f| f.display().to_string())
        .collect();
    if !home_hits.is_empty() {
        eprintln!("NOTE: the password's bytes appear in files under the app's HOME: {home_hits:?}");
    }
    if !leaks.is_empty() {
        bail!("the password is stored in plain text in: {leaks:?}");
    }
    Ok(format!(
        "in the keyring; absent from {checked} files under the config/queue folders"
    ))
}

async fn big_folder(gui: &Gui, w: &World) -> Result<String> {
    let big = w.remote_root().join("big");
    let input = gui
        .wait_for(
            &format!("{} {}", tid("pane-remote"), tid("path-input")),
            UI_TIMEOUT,
        )
        .await?;
    // Measured from outside (Enter sent → WebDriver finds a row of the new folder), and inside
    // the page (Enter keydown → first row in the DOM → the next animation frame).
    let first_row_css = format!("{} {}[data-name^=\"big-\"]", tid("pane-remote"), tid("row"));
    gui.js(
        "const input = arguments[0], sel = arguments[1];\
         window.__e2e = {t0: null, dom: null, paint: null};\
         input.addEventListener('keydown', e => { if (e.key === 'Enter' && window.__e2e.t0 === null) window.__e2e.t0 = performance.now(); }, {capture: true});\
         const mo = new MutationObserver(() => {\
             if (window.__e2e.t0 !== null && window.__e2e.dom === null && document.querySelector(sel)) {\
                 window.__e2e.dom = performance.now(); mo.disconnect();\
                 requestAnimationFrame(() => { window.__e2e.paint = performance.now(); });\
             } });\
         mo.observe(document.body, {childList: true, subtree: true, attributes: true});",
        vec![serde_json::to_value(&input)?, serde_json::Value::String(first_row_css.clone())],
    )
    .await?;
    gui.fill_el(&input, &big.display().to_string()).await?;
    let sent = Instant::now();
    gui.press(Key::Enter).await?;
    gui.wait_for(&first_row_css, Duration::from_secs(30))
        .await
        .context("no row of the 100,000-entry folder within 30 s")?;
    let wall_ms = sent.elapsed().as_secs_f64() * 1000.0;
    // The in-page times: wait for the frame after the first rows (the page may be busy taking
    // in the rest of the listing).
    let page = gui
        .poll(
            "the in-page first-rows times",
            Duration::from_secs(10),
            || async {
                let v = gui.js("return window.__e2e", vec![]).await?;
                Ok(
                    match (v["t0"].as_f64(), v["dom"].as_f64(), v["paint"].as_f64()) {
                        (Some(t0), Some(dom), Some(paint)) => Some((dom - t0, paint - t0)),
                        _ => None,
                    },
                )
            },
        )
        .await
        .ok();
    // What a person sees: the later of "WebDriver finds a row" and "the page painted it".
    let first_ms = match page {
        Some((_, paint)) => wall_ms.max(paint),
        None => wall_ms,
    };
    eprintln!(
        "first rows after {first_ms:.0} ms ({BIG_FOLDER_ENTRIES} entries; Enter sent → row found over WebDriver \
         {wall_ms:.0} ms; in the page: Enter → row in the DOM {}, → next frame {})",
        page.map(|p| format!("{:.0} ms", p.0)).unwrap_or_else(|| "n/a".into()),
        page.map(|p| format!("{:.0} ms", p.1)).unwrap_or_else(|| "n/a".into()),
    );
    gui.shot("big-folder-first-rows").await;
    // Let the rest of the listing arrive, then the status line should count it.
    let status_css = format!("{} {}", tid("pane-remote"), tid("pane-status"));
    let counted = gui
        .poll(
            "pane-status to count 100,000 entries",
            Duration::from_secs(60),
            || async {
                let t = gui.texts(&status_css).await?;
                let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
                Ok(digits
                    .contains(&BIG_FOLDER_ENTRIES.to_string())
                    .then_some(t))
            },
        )
        .await;
    let status_note = match &counted {
        Ok(t) => format!("pane-status {:?}", t.trim()),
        Err(_) => format!(
            "pane-status never counted {BIG_FOLDER_ENTRIES}: {:?}",
            gui.texts(&status_css).await.unwrap_or_default()
        ),
    };
    if first_ms >= FIRST_ROWS_LIMIT_MS {
        bail!("first rows after {first_ms:.0} ms (limit {FIRST_ROWS_LIMIT_MS} ms; README target 1000 ms)");
    }
    Ok(format!("first rows after {first_ms:.0} ms; {status_note}"))
}

async fn many_jobs(gui: &Gui, w: &World) -> Result<String> {
    let dest = w.remote_root().join("many-dest");
    goto_path(gui, "pane-remote", &dest).await?;
    gui.wait_for(
        &format!("{} {}", tid("pane-remote"), tid("pane-status")),
        UI_TIMEOUT,
    )
    .await?;
    goto_path(gui, "pane-local", &w.local_root().join("many")).await?;
    gui.click_css(&row("pane-local", "tiny-0000.txt")).await?;
    // Select all with the keyboard, then queue every file: one job each.
    gui.keys_chord(Key::Control, 'a').await?;
    let queued_at = Instant::now();
    gui.press(Key::F5).await?;
    // Screenshot while the queue is busy.
    gui.poll("job rows for the tiny files", UI_TIMEOUT, || async {
        Ok((gui.all(&tid("job-row")).await?.len() > 10).then_some(()))
    })
    .await
    .context("Ctrl+A then F5 in the local pane did not queue the files")?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    gui.shot("many-jobs-running").await;

    // Every file arrives.
    let deadline = Instant::now() + Duration::from_secs(600);
    let want: BTreeMap<String, String> = manifest(&w.local_root().join("many"))?;
    loop {
        // A file may vanish between listing and hashing (a temp name being renamed): retry.
        let got = manifest(&dest).unwrap_or_default();
        if got == want {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "after 600 s the server holds {} of {MANY_JOBS} files: {}",
                got.len(),
                manifest_diff(&want, &got).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let files_s = queued_at.elapsed().as_secs_f64();
    // And the queue panel says so.
    let rows = gui
        .poll(
            "every visible job-row to be done",
            Duration::from_secs(60),
            || async {
                let rows = gui.all(&tid("job-row")).await?;
                let mut states = BTreeMap::<String, usize>::new();
                for r in &rows {
                    *states
                        .entry(r.attr("data-state").await?.unwrap_or_default())
                        .or_default() += 1;
                }
                let busy = states.iter().any(|(s, _)| s == "queued" || s == "running");
                Ok((!busy).then_some(states))
            },
        )
        .await?;
    if rows.keys().any(|s| s == "failed" || s == "cancelled") {
        bail!("job states in the queue panel: {rows:?}");
    }
    // Reported, not judged (beyond the scenario): does the remote pane, which shows the
    // destination folder, list the new files?
    let status_css = format!("{} {}", tid("pane-remote"), tid("pane-status"));
    let remote_status = gui
        .poll(
            "the remote pane to count the uploads",
            Duration::from_secs(15),
            || async {
                let t = gui.texts(&status_css).await?;
                let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
                Ok(digits.starts_with(&MANY_JOBS.to_string()).then_some(t))
            },
        )
        .await;
    let remote_note = match remote_status {
        Ok(t) => format!("remote pane {:?}", t.trim()),
        Err(_) => {
            let t = gui.texts(&status_css).await.unwrap_or_default();
            eprintln!(
                "NOTE: after {MANY_JOBS} uploads into the folder the remote pane shows, its status \
                 still says {:?} (not refreshed)",
                t.trim()
            );
            format!("NOTE remote pane not refreshed: {:?}", t.trim())
        }
    };
    Ok(format!(
        "{MANY_JOBS} single-file upload jobs queued via the UI (Ctrl+A, F5); all on the server \
         after {files_s:.1} s; job-row states shown: {rows:?}; {remote_note}"
    ))
}

/// In-page instruments for [`small_files_responsive`], installed as `window.__resp`:
/// - every animation frame's time (requestAnimationFrame), from which the gaps between frames;
/// - for a click on a queue-panel control: when the input event was made (`timeStamp`), when the
///   page handled it, when the DOM showed what was expected (`expect`, set before the click;
///   a MutationObserver watches), and the frame after that.
const RESPONSIVENESS_JS: &str = r#"
const r = window.__resp = { frames: [], on: true, expect: null, clicks: [] };
const loop = t => { if (!r.on) return; r.frames.push(t); requestAnimationFrame(loop); };
requestAnimationFrame(loop);
const ids = ['queue-filter-all', 'queue-filter-active'];
document.addEventListener('click', e => {
  const b = e.target.closest && e.target.closest('[data-testid]');
  if (!b || !ids.includes(b.dataset.testid) || !r.expect || r.expect.handled !== undefined) return;
  r.expect.handled = performance.now();
  r.expect.ts = e.timeStamp;
  check();
}, { capture: true });
function check() {
  const x = r.expect;
  if (!x || x.handled === undefined || x.dom !== undefined) return;
  const el = document.querySelector(x.sel);
  if (!el || !x.values.includes(el.getAttribute(x.attr))) return;
  x.dom = performance.now();
  requestAnimationFrame(() => {
    x.paint = performance.now();
    // The input's own time stamp when it is usable (same clock, not after the handler).
    const start = (x.ts > 0 && x.ts <= x.handled) ? x.ts : x.handled;
    r.clicks.push({ what: x.what, queued: x.handled - start, dom: x.dom - start, paint: x.paint - start });
    r.expect = null;
  });
}
new MutationObserver(check).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-selected', 'data-state'] });
"#;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One click measured in the page: `click_css` is clicked over WebDriver, and the page's DOM
/// must then show `attr` ∈ `values` on `sel`. Returns (input → DOM, input → next frame,
/// WebDriver click sent → change seen from here, input made → handler ran) in ms.
async fn timed_click(
    gui: &Gui,
    what: &str,
    click_css: &str,
    sel: &str,
    attr: &str,
    values: &[&str],
) -> Result<(f64, f64, f64, f64)> {
    let before = gui
        .js("return window.__resp.clicks.length", vec![])
        .await?
        .as_u64()
        .unwrap_or(0);
    gui.js(
        "window.__resp.expect = {what: arguments[0], sel: arguments[1], attr: arguments[2], values: arguments[3]};",
        vec![
            what.into(),
            sel.into(),
            attr.into(),
            serde_json::to_value(values)?,
        ],
    )
    .await?;
    let sent = Instant::now();
    gui.click_css(click_css).await?;
    let c = gui
        .poll(
            &format!("the page to show the effect of clicking {what}"),
            Duration::from_secs(15),
            || async {
                let v = gui
                    .js(
                        "const r = window.__resp; return r.clicks.length > arguments[0] ? r.clicks[r.clicks.length - 1] : null;",
                        vec![before.into()],
                    )
                    .await?;
                Ok((!v.is_null()).then_some(v))
            },
        )
        .await;
    let wall = sent.elapsed().as_secs_f64() * 1000.0;
    let c = match c {
        Ok(c) => c,
        Err(e) => {
            let _ = gui.js("window.__resp.expect = null", vec![]).await;
            return Err(e);
        }
    };
    Ok((
        c["dom"].as_f64().unwrap_or(f64::NAN),
        c["paint"].as_f64().unwrap_or(f64::NAN),
        wall,
        c["queued"].as_f64().unwrap_or(f64::NAN),
    ))
}

/// CPU seconds (user + system) used so far by the app processes `pids` and everything under
/// them (WebKit's web and network processes), by process name.
fn cpu_by_process(pids: &[u32]) -> BTreeMap<String, f64> {
    let mut procs = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // After "(comm)": state ppid ... utime (12th) stime (13th), in clock ticks.
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        procs.push((pid, num(1) as u32, name, (num(11) + num(12)) / 100.0));
    }
    let mut mine: std::collections::BTreeSet<u32> = pids.iter().copied().collect();
    loop {
        let before = mine.len();
        for (pid, ppid, _, _) in &procs {
            if mine.contains(ppid) {
                mine.insert(*pid);
            }
        }
        if mine.len() == before {
            break;
        }
    }
    let mut out = BTreeMap::new();
    for (pid, _, name, secs) in procs {
        if mine.contains(&pid) {
            *out.entry(name).or_insert(0.0) += secs;
        }
    }
    out
}

/// The job-row count on the queue's "Active" tab.
async fn active_count(gui: &Gui) -> Result<Option<u64>> {
    let t = gui
        .texts(&format!("{} .count", tid("queue-filter-active")))
        .await?;
    Ok(t.trim().parse().ok())
}

/// 10,000 small files (1 B–8 KiB in 100 folders) uploaded as one folder through the window,
/// while the page measures how responsive it stays: the gaps between animation frames, and
/// clicks in the queue panel (its filter tabs, one every ~250 ms)
/// timed from the input to the DOM showing their effect and the next frame.
async fn small_files_responsive(gui: &Gui, w: &World) -> Result<String> {
    let src = w.local_root().join(SMALL_FILES_DIR);
    let made = Instant::now();
    let stats = make_tree(&src, &TreeSpec::many_small(SMALL_FILES, 10))?;
    let want = manifest(&src)?;
    if manifest_files(&want) != SMALL_FILES {
        bail!(
            "make_tree made {} files, want {SMALL_FILES}",
            manifest_files(&want)
        );
    }
    let made_s = made.elapsed().as_secs_f64();
    let dest = w.remote_root().join(SMALL_FILES_DIR);

    goto_path(gui, "pane-remote", w.remote_root()).await?;
    wait_row(gui, "pane-remote", "hello.txt").await?;
    goto_path(gui, "pane-local", w.local_root()).await?;
    wait_row(gui, "pane-local", SMALL_FILES_DIR).await?;
    // The queue shows active jobs only, so the new job's row is in view (earlier steps leave
    // a thousand finished ones).
    gui.click("queue-filter-active").await?;
    gui.js(RESPONSIVENESS_JS, vec![]).await?;

    // Two clicks at rest, for comparison.
    let mut rest_ms = Vec::new();
    for to in ["queue-filter-all", "queue-filter-active"] {
        rest_ms.push(timed_click(gui, to, &tid(to), &tid(to), "aria-selected", &["true"]).await?);
    }
    gui.click_css(&row("pane-local", SMALL_FILES_DIR)).await?;
    // The same page at rest, for comparison: one second of frames before the upload.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_frames = gui
        .js("return window.__resp.frames.length", vec![])
        .await?
        .as_u64()
        .unwrap_or(0) as usize;
    let cpu_before = cpu_by_process(&gui.app_pids());
    let queued_at = Instant::now();
    gui.press(Key::F5).await?;
    let job_css = gui
        .poll(
            &format!("a job-row for {SMALL_FILES_DIR:?}"),
            UI_TIMEOUT,
            || async {
                for e in gui.all(&tid("job-row")).await? {
                    if gui.text_of(&e).await?.contains(SMALL_FILES_DIR) {
                        let id = e.attr("data-job-id").await?.unwrap_or_default();
                        return Ok(Some(format!("{}[data-job-id=\"{id}\"]", tid("job-row"))));
                    }
                }
                Ok(None)
            },
        )
        .await
        .context("F5 on the folder queued no job")?;

    // While it moves: a filter tab every ~250 ms, and once a screenshot.
    let mut tab_ms: Vec<(f64, f64, f64, f64)> = Vec::new();
    let mut on_active = true;
    let mut shot_window: Option<(f64, f64)> = None;
    let deadline = Instant::now() + Duration::from_secs(300);
    let job_state_js =
        "const e = document.querySelector(arguments[0]); return e ? e.dataset.state : null;";
    loop {
        let tick = Instant::now();
        if active_count(gui).await? == Some(0) {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the {SMALL_FILES}-file upload still runs after 300 s ({} files on the server)",
                files_under(&dest).len()
            );
        }
        let state = gui.js(job_state_js, vec![job_css.clone().into()]).await?;
        let state = state.as_str().unwrap_or_default().to_string();
        if on_active && state == "running" && tab_ms.len() >= 2 && shot_window.is_none() {
            // The queue mid-transfer (the screenshot's own pause is left out of the frame gaps).
            let a = gui.js("return performance.now()", vec![]).await?.as_f64();
            gui.shot("small-files-running").await;
            let b = gui.js("return performance.now()", vec![]).await?.as_f64();
            shot_window = a.zip(b);
        } else {
            let to = if on_active {
                "queue-filter-all"
            } else {
                "queue-filter-active"
            };
            tab_ms
                .push(timed_click(gui, to, &tid(to), &tid(to), "aria-selected", &["true"]).await?);
            on_active = !on_active;
        }
        if let Some(rest) = Duration::from_millis(250).checked_sub(tick.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    let moved_s = queued_at.elapsed().as_secs_f64();
    let cpu_after = cpu_by_process(&gui.app_pids());
    let cpu_note = cpu_after
        .iter()
        .map(|(name, t)| {
            let used = t - cpu_before.get(name).copied().unwrap_or(0.0);
            format!("{name} {:.0} %", 100.0 * used / moved_s)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let frames: Vec<f64> = serde_json::from_value(
        gui.js(
            "const r = window.__resp; r.on = false; return r.frames;",
            vec![],
        )
        .await?,
    )?;

    // Every file arrived, byte for byte.
    let got = manifest(&dest).context("the uploaded folder is not on the server")?;
    if let Some(d) = manifest_diff(&want, &got) {
        bail!("the server's copy differs from the local folder: {d}");
    }
    // The job's row (at the end of the full list) says done, 100 %.
    gui.click("queue-filter-all").await?;
    gui.js(
        "const v = document.querySelector(arguments[0] + ' .jobs'); if (v) { v.scrollTop = v.scrollHeight; v.dispatchEvent(new Event('scroll')); }",
        vec![tid("queue-panel").into()],
    )
    .await?;
    let row_el = gui
        .wait_for(&job_css, UI_TIMEOUT)
        .await
        .context("the finished job's row is not at the end of the queue")?;
    let state = row_el.attr("data-state").await?.unwrap_or_default();
    if state != "done" {
        bail!(
            "the {SMALL_FILES}-file job ended {state:?}: {}",
            gui.text_of(&row_el).await.unwrap_or_default()
        );
    }
    let progress = gui
        .poll(
            "job-progress to read 100%",
            Duration::from_secs(5),
            || async {
                let t = gui
                    .texts(&format!("{job_css} {}", tid("job-progress")))
                    .await?;
                Ok(t.contains("100%").then_some(t))
            },
        )
        .await?;

    // Frame gaps at rest and over the transfer (less any gap that spans the screenshot).
    let mut idle_gaps: Vec<f64> = frames[..idle_frames.min(frames.len())]
        .windows(2)
        .map(|p| p[1] - p[0])
        .collect();
    idle_gaps.sort_by(f64::total_cmp);
    let mut gaps: Vec<f64> = frames[idle_frames.saturating_sub(1).min(frames.len())..]
        .windows(2)
        .filter(|p| match shot_window {
            Some((a, b)) => p[1] < a || p[0] > b,
            None => true,
        })
        .map(|p| p[1] - p[0])
        .collect();
    gaps.sort_by(f64::total_cmp);
    let (gap_p50, gap_p90, gap_max) = (
        percentile(&gaps, 50.0),
        percentile(&gaps, 90.0),
        gaps.last().copied().unwrap_or(f64::NAN),
    );
    let long = gaps.iter().filter(|g| **g > 50.0).count();
    let mut lat: Vec<f64> = tab_ms.iter().map(|t| t.1.max(t.0)).collect();
    lat.sort_by(f64::total_cmp);
    let mut wall: Vec<f64> = tab_ms.iter().map(|t| t.2).collect();
    wall.sort_by(f64::total_cmp);
    let (lat_p50, lat_p90, lat_max) = (
        percentile(&lat, 50.0),
        percentile(&lat, 90.0),
        lat.last().copied().unwrap_or(f64::NAN),
    );
    let summary = format!(
        "{SMALL_FILES} files ({:.1} MB) in {} folders uploaded in {moved_s:.1} s (F5 → job done); frames: {} gaps, median {gap_p50:.1} ms, p90 {gap_p90:.1} ms, worst {gap_max:.1} ms, \
         {long} over 50 ms (at rest before: {} gaps, median {:.1} ms, worst {:.1} ms); queue filter clicks: {} (input → DOM → next frame) median {lat_p50:.1} ms, \
         p90 {lat_p90:.1} ms, worst {lat_max:.1} ms (WebDriver click → change seen: median {:.0} ms, worst {:.0} ms; at rest: {} ms); \
         progress {:?}; server copy identical (tree made in {made_s:.1} s)",
        stats.bytes as f64 / 1e6,
        stats.dirs,
        gaps.len(),
        idle_gaps.len(),
        percentile(&idle_gaps, 50.0),
        idle_gaps.last().copied().unwrap_or(f64::NAN),
        lat.len(),
        percentile(&wall, 50.0),
        wall.last().copied().unwrap_or(f64::NAN),
        rest_ms
            .iter()
            .map(|t| format!("{:.0}/{:.0}", t.1.max(t.0), t.2))
            .collect::<Vec<_>>()
            .join(", "),
        progress.trim(),
    );
    eprintln!("small files: {summary}");
    eprintln!("small files: CPU over the transfer (100 % = one core): {cpu_note}");
    eprintln!(
        "small files: longest frame gaps {:?}; clicks (input → handler / → DOM / → frame / WebDriver click → seen, ms) {:?}",
        gaps.iter().rev().take(10).map(|g| g.round()).collect::<Vec<_>>(),
        tab_ms.iter().map(|t| (t.3.round(), t.0.round(), t.1.round(), t.2.round())).collect::<Vec<_>>()
    );
    let mut problems = Vec::new();
    if lat.len() < 3 {
        problems.push(format!(
            "only {} clicks measured while the files moved (want at least 3)",
            lat.len()
        ));
    }
    if lat_p90.is_nan() || lat_p90 >= INPUT_LATENCY_P90_LIMIT_MS {
        problems.push(format!(
            "p90 click → DOM → frame {lat_p90:.0} ms (limit {INPUT_LATENCY_P90_LIMIT_MS} ms)"
        ));
    }
    if lat_max.is_nan() || lat_max >= INPUT_LATENCY_MAX_LIMIT_MS {
        problems.push(format!(
            "worst click → DOM → frame {lat_max:.0} ms (limit {INPUT_LATENCY_MAX_LIMIT_MS} ms)"
        ));
    }
    if gaps.len() < 10 || gap_p90.is_nan() || gap_p90 >= FRAME_GAP_P90_LIMIT_MS {
        problems.push(format!(
            "p90 frame gap {gap_p90:.0} ms over {} frames (limit {FRAME_GAP_P90_LIMIT_MS} ms)",
            gaps.len()
        ));
    }
    if gap_max.is_nan() || gap_max >= FRAME_GAP_MAX_LIMIT_MS {
        problems.push(format!(
            "the page froze for {gap_max:.0} ms (limit {FRAME_GAP_MAX_LIMIT_MS} ms)"
        ));
    }
    if !problems.is_empty() {
        bail!("{}; {summary}", problems.join("; "));
    }
    Ok(summary)
}

/// Deliver one Tauri event to the page the way Tauri itself does: the Rust side's
/// `emit_to_webview` evaluates `window['__internal_unstable_listeners_function_id__'](
/// {event, payload}, ids)` in the webview (tauri 2's `emit_js_script`), with the ids of the
/// page's listeners for that event and webview, which `listen` registered under
/// `window['__internal_unstable_listeners_object_id__'][event]`. The same call, from inside
/// the page: no IPC command and no extra permission. Returns how many listeners it reached.
async fn deliver_tauri_event(gui: &Gui, event: &str, payload: serde_json::Value) -> Result<u64> {
    let v = gui
        .js(
            "const [event, payload] = arguments;\
             const dispatch = window['__internal_unstable_listeners_function_id__'];\
             const all = window['__internal_unstable_listeners_object_id__'];\
             if (typeof dispatch !== 'function') return 'no Tauri event dispatcher in the page';\
             const me = window.__TAURI_INTERNALS__.metadata.currentWebview.label;\
             const listeners = (all && all[event]) || {};\
             const ids = Object.getOwnPropertyNames(listeners).map(Number).filter(id => {\
                 const t = listeners[id].target || {};\
                 return t.kind === 'Any' || ((t.kind === 'Webview' || t.kind === 'WebviewWindow' || t.kind === 'AnyLabel') && t.label === me);\
             });\
             dispatch({event, payload}, ids);\
             return ids.length;",
            vec![event.into(), payload],
        )
        .await?;
    v.as_u64()
        .with_context(|| format!("delivering {event}: {v}"))
}

/// Files from the OS dropped on a folder row of the remote pane, as Tauri 2 delivers them:
/// `tauri://drag-enter` {paths, position}, `tauri://drag-over` {position}, then
/// `tauri://drag-drop` {paths, position} (physical pixels in the webview). The folder is queued
/// as an upload into the folder under the pointer, and arrives.
async fn os_drop_upload(gui: &Gui, w: &World) -> Result<String> {
    let name = "dropped-folder";
    let src = w.local_root().join(name);
    make_tree(&src, &TreeSpec::many_small(30, 21))?;
    let want = manifest(&src)?;
    goto_path(gui, "pane-remote", w.remote_root()).await?;
    let target = wait_row(gui, "pane-remote", "sub").await?;
    // A queue with only the new job in it.
    if gui
        .all(&format!("{}:not([disabled])", tid("queue-clear")))
        .await?
        .len()
        == 1
    {
        gui.click("queue-clear").await?;
    }
    gui.click("queue-filter-all").await?;
    // The middle of the `sub` row, in physical pixels (what Tauri reports).
    let pos = gui
        .js(
            "const r = arguments[0].getBoundingClientRect(), k = window.devicePixelRatio || 1;\
             return {x: (r.left + r.width / 2) * k, y: (r.top + r.height / 2) * k};",
            vec![serde_json::to_value(&target)?],
        )
        .await?;
    let paths = serde_json::json!([src.display().to_string()]);
    let reached = deliver_tauri_event(
        gui,
        "tauri://drag-enter",
        serde_json::json!({"paths": paths, "position": pos}),
    )
    .await?;
    deliver_tauri_event(
        gui,
        "tauri://drag-over",
        serde_json::json!({"position": pos}),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let dropped = deliver_tauri_event(
        gui,
        "tauri://drag-drop",
        serde_json::json!({"paths": paths, "position": pos}),
    )
    .await?;
    if dropped == 0 {
        bail!("the page listens for no tauri://drag-drop (drag-enter reached {reached} listeners)");
    }
    let note = wait_job_done(gui, name, Duration::from_secs(120)).await?;
    let dest = w.remote_root().join("sub").join(name);
    let got = manifest(&dest).with_context(|| {
        format!(
            "the dropped folder is not in the folder under the pointer ({})",
            dest.display()
        )
    })?;
    if let Some(d) = manifest_diff(&want, &got) {
        bail!("the server's copy of the dropped folder differs: {d}");
    }
    Ok(format!(
        "tauri://drag-drop {{paths: [{name}], position: {pos}}} on the row `sub` reached {dropped} \
         listener(s); {note}; {} entries identical in sub/{name} on the server",
        want.len()
    ))
}

async fn hostkey_changed(gui: &mut Gui, w: &World) -> Result<String> {
    let (line_no, old_line) = w
        .known_hosts_line
        .clone()
        .context("no known_hosts line recorded by `connect`")?;
    let kh = w.env.known_hosts();
    // A different key for the same [127.0.0.1]:PORT, in place of the one trust-and-save wrote.
    let other = w.env.dir.path().join("other_host_key");
    let st = Command::new("ssh-keygen")
        .args(["-t", "ed25519", "-N", "", "-C", "", "-q", "-f"])
        .arg(&other)
        .status()?;
    if !st.success() {
        bail!("ssh-keygen failed");
    }
    let other_pub = std::fs::read_to_string(format!("{}.pub", other.display()))?;
    let other_pub: Vec<&str> = other_pub.split_whitespace().take(2).collect();
    let new_line = format!("[127.0.0.1]:{} {}", w.sshd.port, other_pub.join(" "));
    let text = std::fs::read_to_string(&kh)?;
    let replaced: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == line_no {
                new_line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    if text.lines().nth(line_no - 1) != Some(old_line.as_str()) {
        bail!("known_hosts changed since connect:\n{text}");
    }
    std::fs::write(&kh, replaced.join("\n") + "\n")?;
    let accepted_before = w.sshd.log_contents().matches("Accepted password").count();

    // A fresh start of the app (same config, keyring and HOME): the host is still there.
    gui.restart_app().await.context("restarting the app")?;
    gui.wait_for(
        &format!("{} {}", tid("host-list"), tid("host-item")),
        UI_TIMEOUT,
    )
    .await
    .context("after a restart the saved host is not in host-list")?;
    click_connect(gui, w).await?;
    let dialog = gui
        .testid("hostkey-changed-dialog")
        .await
        .context("no hostkey-changed-dialog for a changed key")?;
    let text = gui.text_of(&dialog).await?;
    let path = kh.display().to_string();
    if !text.contains(&path) || !text.contains(&format!("line {line_no}")) {
        bail!("hostkey-changed-dialog does not name {path} line {line_no}: {text:?}");
    }
    if !gui.all(&tid("hostkey-dialog")).await?.is_empty() {
        bail!("the trust-this-key dialog (hostkey-dialog) is offered for a CHANGED key");
    }
    gui.shot("hostkey-changed-dialog").await;
    // Nothing connects, and no password went to the server.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = connection_text(gui).await;
    if says_connected(&status) {
        bail!("connection-status says {status:?} although the host key changed");
    }
    let accepted_after = w.sshd.log_contents().matches("Accepted password").count();
    if accepted_after != accepted_before {
        bail!("the server accepted a password after the key changed");
    }
    gui.click("hostkey-changed-close").await?;
    gui.wait_gone(&tid("hostkey-changed-dialog"), UI_TIMEOUT)
        .await?;
    Ok(format!(
        "refused; dialog names {path} line {line_no}; status {:?}",
        status.trim()
    ))
}
