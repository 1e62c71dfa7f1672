//! Finding the tools the GUI test needs (the app, tauri-driver, the native WebDriver, a
//! display) and the app's private world (home, config dir, queue database, ssh config).

use std::path::{Path, PathBuf};

use anyhow::Result;


/// Where the tools are ([`Tools::find`] fails the test when one is missing).
pub struct Tools {
    pub app: PathBuf,
    pub tauri_driver: PathBuf,
    pub native_driver: PathBuf,
    pub display: String,
}

pub(super) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The cargo target directory this test runs from.
pub fn target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(d);
    }
    // target/<profile>/deps/<test-binary>
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

impl Tools {
    /// Find the app binary, tauri-driver, WebKitWebDriver and a display. When one is missing
    /// the test fails, naming what to install or build.
    pub fn find() -> Tools {
        let mut missing = Vec::new();
        let app = match std::env::var_os("SKIFF_APP") {
            Some(p) => PathBuf::from(p),
            None => {
                let exe = std::env::current_exe().expect("current_exe");
                let profile_dir = exe
                    .parent()
                    .and_then(Path::parent)
                    .expect("profile dir")
                    .to_path_buf();
                [
                    target_dir().join("release/skiff-app"),
                    profile_dir.join("skiff-app"),
                ]
                .into_iter()
                .find(|p| p.is_file())
                .unwrap_or_else(|| target_dir().join("release/skiff-app"))
            }
        };
        if !app.is_file() {
            missing.push(format!(
                "the app binary {} (build it: cargo build --release -p skiff-app, or set SKIFF_APP)",
                app.display()
            ));
        }
        let home_bin =
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"));
        let tauri_driver = which("tauri-driver").or_else(|| home_bin.filter(|p| p.is_file()));
        if tauri_driver.is_none() {
            missing.push("tauri-driver (cargo install tauri-driver --locked)".into());
        }
        let native_driver = which("WebKitWebDriver");
        if native_driver.is_none() {
            missing.push("WebKitWebDriver (apt-get install webkit2gtk-driver)".into());
        }
        let display = std::env::var("DISPLAY").ok().filter(|d| !d.is_empty());
        if display.is_none() {
            missing.push(
                "a display: $DISPLAY is unset (run under tests/gui-session.sh, or make test)"
                    .into(),
            );
        }
        if !missing.is_empty() {
            let list = missing.join("\n  - ");
            panic!(
                "the GUI end-to-end test cannot run; missing:\n  - {list}\n`make test` installs and builds all of it"
            );
        }
        Tools {
            app,
            tauri_driver: tauri_driver.unwrap(),
            native_driver: native_driver.unwrap(),
            display: display.unwrap(),
        }
    }
}

/// The app's private world.
pub struct AppEnv {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub config_dir: PathBuf,
    pub queue_db: PathBuf,
    pub ssh_config: PathBuf,
}

impl AppEnv {
    pub fn new() -> Result<AppEnv> {
        let dir = tempfile::Builder::new()
            .prefix("skiff-gui-e2e-")
            .tempdir()?;
        let home = dir.path().join("home");
        let config_dir = dir.path().join("config");
        let queue_db = dir.path().join("queue/skiff-queue.sqlite3");
        let ssh_config = dir.path().join("ssh_config");
        std::fs::create_dir_all(&home)?;
        std::fs::create_dir_all(queue_db.parent().unwrap())?;
        // The app's own ssh_config: nothing in it (the host is added through the window).
        std::fs::write(
            &ssh_config,
            "# Skiff GUI end-to-end test: intentionally empty\n",
        )?;
        Ok(AppEnv {
            dir,
            home,
            config_dir,
            queue_db,
            ssh_config,
        })
    }

    /// `HOME/.ssh/known_hosts`, where "trust and save" writes.
    pub fn known_hosts(&self) -> PathBuf {
        self.home.join(".ssh/known_hosts")
    }
}
