//! The WebDriver plumbing under [`Gui`]: a free port for tauri-driver, a new session on
//! it, and the guard that kills the driver if launching fails half-way.

use std::net::TcpListener;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use fantoccini::{Client, ClientBuilder};


pub(super) fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(super) async fn new_session(port: u16, app: &Path) -> Result<Client> {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": app }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = tokio::time::timeout(
        Duration::from_secs(60),
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}")),
    )
    .await
    .map_err(|_| anyhow!("creating the WebDriver session (starting the app) took over 60 s"))?
    .context("creating the WebDriver session (starting the app)")?;
    Ok(client)
}

pub(super) struct DriverGuard(pub(super) Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
