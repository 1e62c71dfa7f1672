//! Harness for the GUI end-to-end tests: the real `skiff-app` window, driven through
//! `tauri-driver` (which starts WebKitGTK's `WebKitWebDriver`, which starts the app) on a
//! display (Xvfb under `make test`).
//!
//! [`Gui::launch`] gives the app a private world through tauri-driver's environment, which the
//! native driver and the app inherit: `HOME` (so `~/.ssh/known_hosts` is the test's),
//! `SKIFF_CONFIG_DIR`, `SKIFF_QUEUE_DB`, `SKIFF_SSH_CONFIG` and `DISPLAY`; the D-Bus session
//! (and so the Secret Service) is the test process's own.
//!
//! Every step ends with a screenshot, `$CARGO_TARGET_DIR/e2e-screenshots/NN-step.png` (the
//! WebDriver view of the window) and, when the display is a private Xvfb
//! (`SKIFF_XVFB=1`, set by `tests/gui-session.sh`), `NN-step.screen.png` (`import -window root`).
//! `SKIFF_UPDATE_SCREENSHOTS=1` refreshes `docs/screenshots/` from them: the PNGs already there
//! are replaced by the same step's new shot (matched by name without the number, so README
//! links stay valid); an empty folder gets every shot of a passed step.

#![allow(dead_code)]

mod driver;
mod env;
mod helpers;
mod report;
mod shots;

use driver::*;
pub use env::{target_dir, AppEnv, Tools};
pub use helpers::{read_to_string_lossy, row, tid};
pub use report::Report;
pub use shots::Shots;

use std::future::Future;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};

/// How long a UI element may take to appear before a step fails.
pub const UI_TIMEOUT: Duration = Duration::from_secs(20);

/// One running app, driven over WebDriver.
pub struct Gui {
    pub client: Client,
    pub shots: Shots,
    driver: Child,
    driver_log: PathBuf,
    port: u16,
    app: PathBuf,
}

impl Gui {
    /// Start tauri-driver with the app's environment, and open a session (which starts the app).
    pub async fn launch(tools: &Tools, env: &AppEnv) -> Result<Gui> {
        let shots = Shots::new(&tools.display)?;
        let port = free_port()?;
        let mut native_port = free_port()?;
        while native_port == port {
            native_port = free_port()?;
        }
        let driver_log = env.dir.path().join("tauri-driver.log");
        let log = std::fs::File::create(&driver_log)?;
        let mut cmd = Command::new(&tools.tauri_driver);
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--native-port")
            .arg(native_port.to_string())
            .arg("--native-driver")
            .arg(&tools.native_driver)
            .env("HOME", &env.home)
            .env("SKIFF_CONFIG_DIR", &env.config_dir)
            .env("SKIFF_QUEUE_DB", &env.queue_db)
            .env("SKIFF_SSH_CONFIG", &env.ssh_config)
            .env("DISPLAY", &tools.display)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env(
                "SKIFF_LOG",
                std::env::var("SKIFF_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let driver = cmd
            .spawn()
            .with_context(|| format!("starting {}", tools.tauri_driver.display()))?;
        let mut gui_driver = DriverGuard(Some(driver));

        // Wait for tauri-driver to listen.
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = gui_driver.0.as_mut().unwrap().try_wait()? {
                bail!(
                    "tauri-driver exited ({status}):\n{}",
                    read_to_string_lossy(&driver_log)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "tauri-driver did not listen on {port} within 20 s:\n{}",
                    read_to_string_lossy(&driver_log)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // ... and for the native driver behind it.
        while TcpStream::connect(("127.0.0.1", native_port)).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "WebKitWebDriver did not listen on {native_port} within 20 s:\n{}",
                    read_to_string_lossy(&driver_log)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let client = new_session(port, &tools.app)
            .await
            .with_context(|| format!("tauri-driver log:\n{}", read_to_string_lossy(&driver_log)))?;
        let driver = gui_driver.0.take().unwrap();
        let gui = Gui {
            client,
            shots,
            driver,
            driver_log,
            port,
            app: tools.app.clone(),
        };
        gui.wait_ready().await?;
        let vis = gui.client.execute("return document.visibilityState + (document.hasFocus() ? ',focused' : ',unfocused')", vec![]).await;
        eprintln!(
            "app started (pids {:?}); page visibility: {vis:?}",
            gui.app_pids()
        );
        Ok(gui)
    }

    /// The app processes started under our tauri-driver (by WebKitWebDriver).
    pub fn app_pids(&self) -> Vec<u32> {
        let driver = self.driver.id();
        let ppid = |pid: u32| -> Option<u32> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
            stat.rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        };
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return out;
        };
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
            if exe.as_deref() != Some(self.app.as_path()) {
                continue;
            }
            // Under our tauri-driver?
            let (mut p, mut hops) = (pid, 0);
            while let Some(pp) = ppid(p) {
                if pp == driver {
                    out.push(pid);
                    break;
                }
                if pp <= 1 || hops > 8 {
                    break;
                }
                p = pp;
                hops += 1;
            }
        }
        out
    }

    /// Close the window and start the app again on the same tauri-driver (same environment).
    pub async fn restart_app(&mut self) -> Result<()> {
        let old = self.client.clone();
        old.close().await.context("closing the WebDriver session")?;
        // The old window must be gone first: a new window mapped under it stays "obscured",
        // and WebKit stops painting it.
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.app_pids().is_empty() {
            if Instant::now() > deadline {
                bail!(
                    "the app (pids {:?}) did not exit within 15 s of closing its WebDriver session",
                    self.app_pids()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.client = new_session(self.port, &self.app).await.with_context(|| {
            format!(
                "tauri-driver log:\n{}",
                read_to_string_lossy(&self.driver_log)
            )
        })?;
        self.wait_ready().await?;
        let vis = self.client.execute("return document.visibilityState + (document.hasFocus() ? ',focused' : ',unfocused')", vec![]).await;
        eprintln!(
            "app restarted (pids {:?}); page visibility: {vis:?}",
            self.app_pids()
        );
        Ok(())
    }

    /// Wait for the page to load and mount; a window that never shows a test id is left to
    /// the first step to report (with its screenshot).
    async fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let n = self
                .client
                .execute("return document.readyState === 'complete' ? document.querySelectorAll('[data-testid]').length : -1", vec![])
                .await;
            match &n {
                Ok(v) if v.as_i64().unwrap_or(-1) > 0 => return Ok(()),
                _ => {}
            }
            if Instant::now() > deadline {
                let text = self.page_text().await;
                eprintln!(
                    "WARNING: the window shows no [data-testid] element after {UI_TIMEOUT:?} (last answer {n:?}); page text: {text:?}"
                );
                if text.contains("localhost") {
                    eprintln!(
                        "WARNING: {} looks like a DEV build (it loads the Vite dev server): build it with \
                         `cargo build --release -p skiff-app --features tauri/custom-protocol` (make app does)",
                        self.app.display()
                    );
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What has the keyboard focus (tag, test id, class), for failure messages.
    pub async fn focused(&self) -> String {
        let js = "const e = document.activeElement; if (!e) return '(none)'; \
                  return e.tagName.toLowerCase() + (e.dataset.testid ? '[data-testid=' + e.dataset.testid + ']' : '') + \
                  (e.className ? '.' + String(e.className).split(' ').join('.') : '') + \
                  (e.closest('[data-testid^=pane-]') ? ' in ' + e.closest('[data-testid^=pane-]').dataset.testid : '');";
        match self.client.execute(js, vec![]).await {
            Ok(v) => v.as_str().unwrap_or_default().to_string(),
            Err(e) => format!("(unknown: {e})"),
        }
    }

    /// The first 2,000 characters of the page's visible text (for failure messages).
    pub async fn page_text(&self) -> String {
        match self
            .client
            .execute(
                "return document.body ? document.body.innerText.slice(0, 2000) : '(no body)'",
                vec![],
            )
            .await
        {
            Ok(v) => v.as_str().unwrap_or_default().to_string(),
            Err(e) => format!("(could not read the page: {e})"),
        }
    }

    pub fn driver_log(&self) -> String {
        read_to_string_lossy(&self.driver_log)
    }

    /// End the session (closes the app) and stop tauri-driver.
    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.clone().close()).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    // -------------------------------------------------------------------------------------
    // Screenshots

    /// `NN-name.png` (window) and, on a private Xvfb, `NN-name.screen.png` (whole screen).
    pub async fn shot(&self, name: &str) -> Option<PathBuf> {
        // Let transitions (dialogs fading in) settle.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let n = self.shots.n.fetch_add(1, Ordering::SeqCst) + 1;
        let base = format!("{n:02}-{name}");
        let path = self.shots.dir.join(format!("{base}.png"));
        let mut out = None;
        match tokio::time::timeout(Duration::from_secs(20), self.client.screenshot()).await {
            Ok(Ok(png)) => match std::fs::write(&path, png) {
                Ok(()) => {
                    self.shots.taken.lock().unwrap().push(path.clone());
                    out = Some(path.clone());
                }
                Err(e) => eprintln!("(could not write {}: {e})", path.display()),
            },
            Ok(Err(e)) => eprintln!("(WebDriver screenshot {base} failed: {e})"),
            Err(_) => eprintln!("(WebDriver screenshot {base} timed out)"),
        }
        if self.shots.root_shots {
            let screen = self.shots.dir.join(format!("{base}.screen.png"));
            let st = Command::new("import")
                .args(["-display", &self.shots.display, "-window", "root"])
                .arg(&screen)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output();
            match st {
                Ok(o) if o.status.success() => {}
                Ok(o) => eprintln!(
                    "(import -window root failed: {})",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => eprintln!("(import not runnable: {e})"),
            }
        }
        out
    }

    // -------------------------------------------------------------------------------------
    // Finding things

    /// All elements matching `css`, now.
    pub async fn all(&self, css: &str) -> Result<Vec<Element>> {
        Ok(self.client.find_all(Locator::Css(css)).await?)
    }

    /// The first element matching `css`, waiting up to `timeout`.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(mut v) = self.client.find_all(Locator::Css(css)).await {
                if !v.is_empty() {
                    return Ok(v.swap_remove(0));
                }
            }
            if Instant::now() > deadline {
                bail!("no element matches `{css}` after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `[data-testid=ID]`, waiting up to [`UI_TIMEOUT`].
    pub async fn testid(&self, id: &str) -> Result<Element> {
        self.wait_for(&tid(id), UI_TIMEOUT).await
    }

    /// Wait until no element matches `css`.
    pub async fn wait_gone(&self, css: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let n = self
                .client
                .find_all(Locator::Css(css))
                .await
                .map(|v| v.len())
                .unwrap_or(1);
            if n == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("`{css}` still present after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Poll `check` until it returns `Some`, or fail with what it last said.
    pub async fn poll<T, F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        loop {
            match check().await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) => last = format!("{e:#}"),
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out after {timeout:?} waiting for {what}{}",
                    if last.is_empty() {
                        String::new()
                    } else {
                        format!(" (last error: {last})")
                    }
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// An element's `innerText` (what a person reads; WebKitWebDriver's own "visible text"
    /// leaves out text in ellipsised spans).
    pub async fn text_of(&self, e: &Element) -> Result<String> {
        let v = self
            .client
            .execute(
                "return arguments[0].innerText",
                vec![serde_json::to_value(e)?],
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The text of every element matching `css`, joined by newlines ("" if none).
    pub async fn texts(&self, css: &str) -> Result<String> {
        let v = self
            .client
            .execute(
                "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText).join('\\n')",
                vec![serde_json::Value::String(css.into())],
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The visible text of the error banner(s), if any (for failure messages).
    pub async fn error_banner(&self) -> String {
        self.texts(&tid("error-banner")).await.unwrap_or_default()
    }

    // -------------------------------------------------------------------------------------
    // Acting

    pub async fn click(&self, id: &str) -> Result<()> {
        let e = self.testid(id).await?;
        e.click()
            .await
            .with_context(|| format!("clicking [data-testid={id}]"))?;
        Ok(())
    }

    pub async fn click_css(&self, css: &str) -> Result<()> {
        let e = self.wait_for(css, UI_TIMEOUT).await?;
        e.click()
            .await
            .with_context(|| format!("clicking `{css}`"))?;
        Ok(())
    }

    /// Replace the value of an input: clear it, then type `text`.
    pub async fn fill_el(&self, e: &Element, text: &str) -> Result<()> {
        e.clear().await.context("clearing an input")?;
        // Some inputs keep a value bound through events only; make sure it is empty.
        let v = e.prop("value").await?.unwrap_or_default();
        if !v.is_empty() {
            e.click().await?;
            self.keys_chord(Key::Control, 'a').await?;
            self.press(Key::Backspace).await?;
        }
        if !text.is_empty() {
            e.send_keys(text).await.context("typing into an input")?;
        }
        Ok(())
    }

    pub async fn fill(&self, id: &str, text: &str) -> Result<()> {
        let e = self.testid(id).await?;
        self.fill_el(&e, text)
            .await
            .with_context(|| format!("filling [data-testid={id}]"))
    }

    /// Choose `value` in a `<select>`; fires `input`/`change` as a person's choice would.
    pub async fn select(&self, id: &str, value: &str) -> Result<()> {
        let e = self.testid(id).await?;
        if e.select_by_value(value).await.is_err()
            || e.prop("value").await?.as_deref() != Some(value)
        {
            self.client
                .execute(
                    "const s = arguments[0]; s.value = arguments[1]; \
                     s.dispatchEvent(new Event('input', {bubbles: true})); \
                     s.dispatchEvent(new Event('change', {bubbles: true}));",
                    vec![
                        serde_json::to_value(&e)?,
                        serde_json::Value::String(value.into()),
                    ],
                )
                .await?;
        }
        let got = e.prop("value").await?.unwrap_or_default();
        if got != value {
            bail!("[data-testid={id}] shows {got:?} after choosing {value:?}");
        }
        Ok(())
    }

    /// Press and release one key, sent to whatever has the focus (as a keyboard does).
    pub async fn press(&self, key: Key) -> Result<()> {
        let k: char = key.into();
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: k })
            .then(KeyAction::Up { value: k });
        self.client
            .perform_actions(actions)
            .await
            .with_context(|| format!("pressing {key:?}"))?;
        self.client.release_actions().await?;
        Ok(())
    }

    /// Hold `modifier`, press `c`, release both.
    pub async fn keys_chord(&self, modifier: Key, c: char) -> Result<()> {
        let m: char = modifier.into();
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: m })
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Up { value: c })
            .then(KeyAction::Up { value: m });
        self.client.perform_actions(actions).await?;
        self.client.release_actions().await?;
        Ok(())
    }

    /// A real double click (two pointer clicks in a row) on `e`.
    pub async fn double_click(&self, e: &Element) -> Result<()> {
        let actions = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element: e.clone(),
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client
            .perform_actions(actions)
            .await
            .context("double click")?;
        self.client.release_actions().await?;
        Ok(())
    }

    /// Run JavaScript in the window.
    pub async fn js(
        &self,
        script: &str,
        args: Vec<serde_json::Value>,
    ) -> Result<serde_json::Value> {
        Ok(self.client.execute(script, args).await?)
    }
}

impl Drop for Gui {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
