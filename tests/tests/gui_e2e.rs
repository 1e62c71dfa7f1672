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
//!
//! The steps run in the order `run` lists them, each on what the ones before left (the saved
//! host, the connection, the files). The short steps are below; the ones with much code of
//! their own are in `gui_steps/` (pause and resume over a slow path, the load and
//! responsiveness measurements), and the harness that drives the window is in `gui/`.

mod gui;
mod gui_steps;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::key::Key;
use gui::{row, tid, AppEnv, Gui, Report, Tools, UI_TIMEOUT};
use skiff_tests::sshd::{Sshd, SshdOptions, PASSWORD_USER};
use skiff_tests::tree::{make_tree, manifest, manifest_diff, TreeSpec};

/// The fixture user's password; distinctive, so a leak into a file is found by grep.
const PASSWORD: &str = "Skiff-e2e-Pw-7341-qz";
const HOST_NAME: &str = "E2E server";
const BIG_FOLDER_ENTRIES: usize = 100_000;
const MANY_JOBS: usize = 1_000;

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
    step!("big-folder", needs["connect"], gui_steps::responsiveness::big_folder(&gui, &w));
    step!("many-jobs", needs["connect"], gui_steps::responsiveness::many_jobs(&gui, &w));
    step!(
        "small-files-responsive",
        needs["connect"],
        gui_steps::responsiveness::small_files_responsive(&gui, &w)
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
