//! The "pause-resume-relay" step: a download paused in the window part way and resumed there
//! goes on from the bytes it has, over a slow path, instead of starting the file again.
//!
//! The path is the project's relay in front of the test's sshd: 50 ms round trip and a
//! bandwidth cap per connection, so a 256 MiB file takes seconds and a pause lands in the
//! middle of it. The relay counts every byte it carries; the step asks that the whole download,
//! the part before the pause and the part after it, carried less than 1.3× the file. The
//! server is reached by quick connect (`user@127.0.0.1:RELAYPORT`, the password typed into the
//! prompt), as a person would reach a server they have not saved; the saved host is connected
//! again at the end for the steps after this one.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::key::Key;
use skiff_tests::relay::{Relay, RelayOptions};

use crate::gui::{tid, Gui, UI_TIMEOUT};
use crate::{connection_text, goto_path, says_connected, wait_row, World, PASSWORD};

const FILE_NAME: &str = "paused-over-relay.bin";
const FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Per direction and per connection (the download spreads over two connections).
const RATE_BYTES_PER_SEC: u64 = 8 * 1024 * 1024;
const ONE_WAY_DELAY: Duration = Duration::from_millis(25);
/// The pause comes once the temp file holds this share of the file: a resume that started over
/// would then cost at least 1.4× the file, one that goes on about 1.0× plus what was lost at the
/// pause (the READs in flight, up to 32 MiB, and the ranges written since the last checkpoint).
const PAUSE_AT: f64 = 0.4;
/// What may cross the relay for the whole download, pause and resume included.
const MOST_BYTES_FACTOR: f64 = 1.3;

pub async fn pause_resume_relay(gui: &Gui, w: &World) -> Result<String> {
    let src = w.remote_root().join(FILE_NAME);
    skiff_tests::write_random_file(&src, FILE_BYTES, 91)?;
    let dest_dir = w.local_root().join("relay-down");
    std::fs::create_dir_all(&dest_dir)?;
    let relay = Relay::start(
        w.sshd.addr,
        RelayOptions {
            one_way_delay: ONE_WAY_DELAY,
            rate_bytes_per_sec: Some(RATE_BYTES_PER_SEC),
            ..Default::default()
        },
    )?;
    trust_relay_port(w, relay.port)?;

    quick_connect(gui, &w.sshd.user, relay.port).await?;
    go_to(gui, "pane-remote", w.remote_root()).await?;
    wait_row(gui, "pane-remote", FILE_NAME).await?;
    go_to(gui, "pane-local", &dest_dir).await?;
    let before = relay_bytes(&relay);
    gui.click_css(&crate::gui::row("pane-remote", FILE_NAME))
        .await?;
    gui.press(Key::F5).await?;
    let job = job_css(gui, FILE_NAME).await?;

    // Pause part way.
    let at = (FILE_BYTES as f64 * PAUSE_AT) as u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while part_bytes(&dest_dir) < at {
        answer_password_prompt(gui).await?;
        if Instant::now() > deadline {
            bail!(
                "the download never reached {at} bytes in {}: {} bytes",
                dest_dir.display(),
                part_bytes(&dest_dir)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gui.click_css(&format!("{job} {}", tid("job-pause")))
        .await?;
    wait_state(gui, &job, "paused", Duration::from_secs(30)).await?;
    let at_pause = part_bytes(&dest_dir);
    let crossed_at_pause = relay_bytes(&relay) - before;
    gui.shot("pause-resume-paused").await;
    if dest_dir.join(FILE_NAME).exists() {
        bail!("the file was complete before the pause took hold ({at_pause} bytes in the temp file); the step needs it halfway");
    }
    if at_pause >= FILE_BYTES {
        bail!("the temp file holds the whole file ({at_pause} bytes) at the pause");
    }
    // Paused means nothing moves.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = part_bytes(&dest_dir);
    if still > at_pause {
        bail!("the temp file grew from {at_pause} to {still} bytes while paused");
    }

    gui.click_css(&format!("{job} {}", tid("job-resume")))
        .await?;
    wait_state(gui, &job, "done", Duration::from_secs(180)).await?;
    let total = relay_bytes(&relay) - before;
    let got = dest_dir.join(FILE_NAME);
    if !same_bytes(&src, &got)? {
        bail!("the resumed download differs from the server's file");
    }
    if part_bytes(&dest_dir) != 0 {
        bail!("a .skiffpart was left in {}", dest_dir.display());
    }
    let ratio = total as f64 / FILE_BYTES as f64;
    let summary = format!(
        "paused at {:.0}% of the file ({crossed_at_pause} bytes through the relay), resumed, identical bytes; {total} bytes through the relay in all = {ratio:.2}× the file",
        100.0 * at_pause as f64 / FILE_BYTES as f64
    );
    if ratio >= MOST_BYTES_FACTOR {
        bail!("{summary}: over {MOST_BYTES_FACTOR}×, so the resume sent bytes the temp file had");
    }

    eprintln!("pause-resume-relay: {summary}");
    // Back to the saved host for the steps after this one; the relay goes away with this step.
    reconnect_saved_host(gui, w).await?;
    Ok(summary)
}

/// `[127.0.0.1]:PORT KEY` in the app's known_hosts: the relay's port is another "host" to
/// OpenSSH's rules, with the server's own key behind it.
fn trust_relay_port(w: &World, port: u16) -> Result<()> {
    use std::io::Write;
    let key: Vec<&str> = w
        .sshd
        .host_key_pub_line
        .split_whitespace()
        .take(2)
        .collect();
    let kh = w.env.known_hosts();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&kh)
        .with_context(|| format!("opening {}", kh.display()))?;
    writeln!(f, "[127.0.0.1]:{port} {}", key.join(" "))?;
    Ok(())
}

async fn quick_connect(gui: &Gui, user: &str, port: u16) -> Result<()> {
    let address = format!("{user}@127.0.0.1:{port}");
    gui.fill("quick-connect-input", &address).await?;
    gui.click("quick-connect-go").await?;
    gui.poll(
        &format!("quick connect to {address} to say connected"),
        Duration::from_secs(60),
        || async {
            if !gui.all(&tid("hostkey-dialog")).await?.is_empty() {
                bail!("a hostkey-dialog asks about {address}, whose key is in known_hosts");
            }
            answer_password_prompt(gui).await?;
            let s = connection_text(gui).await;
            Ok(connected_to(&s, port).then_some(()))
        },
    )
    .await
}

/// Type the password into a prompt-dialog, if one is open (the quick-connected address has no
/// saved password, so the download's own connections may ask too).
async fn answer_password_prompt(gui: &Gui) -> Result<()> {
    if gui.all(&tid("prompt-dialog")).await?.is_empty() {
        return Ok(());
    }
    gui.fill("prompt-input", PASSWORD).await?;
    gui.click("prompt-ok").await?;
    gui.wait_gone(&tid("prompt-dialog"), UI_TIMEOUT).await
}

/// Open `path` in `pane` and see it stay there: a pane that a new connection just opened may
/// still be loading its start folder, whose listing would take the pane back there.
async fn go_to(gui: &Gui, pane: &str, path: &Path) -> Result<()> {
    let want = path.display().to_string();
    let css = format!("{} {}", tid(pane), tid("path-input"));
    let shows = || async {
        let input = gui.wait_for(&css, UI_TIMEOUT).await?;
        Ok::<_, anyhow::Error>(
            input
                .prop("value")
                .await?
                .unwrap_or_default()
                .trim_end_matches('/')
                == want,
        )
    };
    for _ in 0..5 {
        goto_path(gui, pane, path).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        if shows().await? {
            return Ok(());
        }
    }
    bail!("{pane} does not stay in {want}")
}

/// The CSS of the job row for `name`.
async fn job_css(gui: &Gui, name: &str) -> Result<String> {
    let id = gui
        .poll(&format!("a job-row for {name:?}"), UI_TIMEOUT, || async {
            for e in gui.all(&tid("job-row")).await? {
                if gui.text_of(&e).await?.contains(name) {
                    return Ok(e.attr("data-job-id").await?);
                }
            }
            Ok(None)
        })
        .await?;
    Ok(format!("{}[data-job-id=\"{id}\"]", tid("job-row")))
}

async fn wait_state(gui: &Gui, job: &str, want: &str, timeout: Duration) -> Result<()> {
    gui.poll(&format!("{job} to be {want}"), timeout, || async {
        answer_password_prompt(gui).await?;
        let el = gui.wait_for(job, UI_TIMEOUT).await?;
        let state = el.attr("data-state").await?.unwrap_or_default();
        if state == want {
            return Ok(Some(()));
        }
        if matches!(state.as_str(), "failed" | "cancelled") {
            bail!(
                "the job ended {state}: {}",
                gui.text_of(&el).await.unwrap_or_default()
            );
        }
        Ok(None)
    })
    .await
}

/// The top bar's host picker: connected elsewhere, the host list is not on screen.
async fn reconnect_saved_host(gui: &Gui, w: &World) -> Result<()> {
    let id = w
        .host_id
        .as_deref()
        .context("no saved host id recorded by `add-host`")?;
    gui.select("host-picker", id).await?;
    gui.click("host-picker-connect").await?;
    gui.poll(
        "the saved host to be connected again",
        Duration::from_secs(60),
        || async {
            if !gui.all(&tid("confirm-ok")).await?.is_empty() {
                gui.click("confirm-ok").await?;
            }
            let s = connection_text(gui).await;
            Ok(connected_to(&s, w.sshd.port).then_some(()))
        },
    )
    .await
}

/// connection-status says "Connected to user@host:PORT".
fn connected_to(status: &str, port: u16) -> bool {
    says_connected(status) && status.trim_end().ends_with(&format!(":{port}"))
}

fn relay_bytes(relay: &Relay) -> u64 {
    let s = relay.stats();
    s.bytes_up.load(Ordering::Relaxed) + s.bytes_down.load(Ordering::Relaxed)
}

/// Bytes of data the largest `*.skiffpart` in `dir` holds (its allocated size: the temp file
/// is written at offsets, so its length says little).
fn part_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".skiffpart"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.blocks() * 512)
        .max()
        .unwrap_or(0)
}

fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    use std::io::Read;
    let open =
        |p: &Path| std::fs::File::open(p).with_context(|| format!("opening {}", p.display()));
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}
