//! The steps that measure how the window holds up under load: the first rows of a
//! 100,000-entry folder (`big-folder`), 1,000 single-file jobs queued at once (`many-jobs`),
//! and 10,000 small files moving while the test clicks and counts frames
//! (`small-files-responsive`), with the limits each one accepts and why.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fantoccini::key::Key;
use skiff_tests::tree::{make_tree, manifest, manifest_diff, manifest_files, TreeSpec};

use crate::gui::{row, tid, Gui, UI_TIMEOUT};
use crate::{files_under, goto_path, wait_row, World, BIG_FOLDER_ENTRIES, MANY_JOBS};

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

pub async fn big_folder(gui: &Gui, w: &World) -> Result<String> {
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

pub async fn many_jobs(gui: &Gui, w: &World) -> Result<String> {
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
pub async fn small_files_responsive(gui: &Gui, w: &World) -> Result<String> {
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
