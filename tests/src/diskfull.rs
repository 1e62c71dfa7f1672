//! A small filesystem that fills up: [`SmallDisk`] mounts a tmpfs of a given
//! size on a fresh temporary directory (root only), or, where tmpfs mounts
//! are refused, a loop-mounted ext4 image; it unmounts on drop.
//!
//! When neither works (not root, no `CAP_SYS_ADMIN`, no loop devices),
//! [`SmallDisk::new`] returns an error saying why, and tests skip with that
//! reason. This module owns its mount point, its image file and the mount.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How a [`SmallDisk`] is backed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskKind {
    /// `mount -t tmpfs -o size=N`.
    Tmpfs,
    /// A sparse ext4 image on a loop device.
    LoopExt4,
}

/// A mounted small filesystem; writing more than its size fails with
/// `ENOSPC` (`io::ErrorKind::StorageFull`). Unmounted on drop.
pub struct SmallDisk {
    /// The mount point (mode 0777, empty at start except `lost+found` on ext4).
    pub path: PathBuf,
    /// What backs it.
    pub kind: DiskKind,
    /// Requested size in bytes.
    pub size: u64,
    _dir: tempfile::TempDir,
    image: Option<PathBuf>,
}

impl SmallDisk {
    /// Mount a filesystem of about `size_bytes` (tmpfs rounds up to pages;
    /// ext4 needs at least ~1 MiB and keeps some for metadata).
    pub fn new(size_bytes: u64) -> io::Result<SmallDisk> {
        let dir = tempfile::Builder::new()
            .prefix("skiff-smalldisk-")
            .tempdir()?;
        let path = dir.path().join("mnt");
        fs::create_dir(&path)?;

        let tmpfs_err = match run(Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size_bytes},mode=0777"),
                "tmpfs",
            ])
            .arg(&path))
        {
            Ok(()) => {
                return Ok(SmallDisk {
                    path,
                    kind: DiskKind::Tmpfs,
                    size: size_bytes,
                    _dir: dir,
                    image: None,
                })
            }
            Err(e) => e,
        };

        let image = dir.path().join("disk.img");
        let loop_result = (|| -> Result<(), String> {
            let f = fs::File::create(&image).map_err(|e| format!("creating the image: {e}"))?;
            f.set_len(size_bytes.max(2 * 1024 * 1024))
                .map_err(|e| format!("sizing the image: {e}"))?;
            drop(f);
            run(Command::new("mkfs.ext4")
                .args(["-q", "-F", "-m", "0"])
                .arg(&image))?;
            run(Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(&path))?;
            let _ = fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o777));
            Ok(())
        })();
        match loop_result {
            Ok(()) => Ok(SmallDisk {
                path,
                kind: DiskKind::LoopExt4,
                size: size_bytes,
                _dir: dir,
                image: Some(image),
            }),
            Err(loop_err) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "cannot mount a small filesystem here (needs root/CAP_SYS_ADMIN): \
                     tmpfs: {tmpfs_err}; loop-mounted ext4: {loop_err}"
                ),
            )),
        }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if run(Command::new("umount").arg(&self.path)).is_err() {
            // Busy (a test still holds a file open): detach lazily.
            let _ = run(Command::new("umount").arg("-l").arg(&self.path));
        }
        if let Some(img) = &self.image {
            let _ = fs::remove_file(img);
        }
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{:?} {:?}: {} {}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn small_disk_fills_up_with_enospc() {
        let disk = match SmallDisk::new(1024 * 1024) {
            Ok(d) => d,
            Err(e) => panic!("no small disk can be mounted here: {e}; run the tests as root with `mount` and a loop-capable kernel"),
        };
        let mounted = disk.path.clone();
        // A small file fits and survives the failure of the big one.
        fs::write(disk.path.join("small"), b"kept").unwrap();
        let mut f = fs::File::create(disk.path.join("big")).unwrap();
        let chunk = vec![7u8; 64 * 1024];
        let mut written = 0u64;
        let err = loop {
            match f.write_all(&chunk).and_then(|_| f.flush()) {
                Ok(()) => written += chunk.len() as u64,
                Err(e) => break e,
            }
            assert!(
                written <= 8 * 1024 * 1024,
                "wrote {written} bytes without ENOSPC"
            );
        };
        let err = match f.sync_all() {
            Err(e2) if err.raw_os_error().is_none() => e2,
            _ => err,
        };
        assert_eq!(
            err.kind(),
            io::ErrorKind::StorageFull,
            "{err} ({:?})",
            disk.kind
        );
        assert!(written < 2 * 1024 * 1024);
        assert_eq!(fs::read(disk.path.join("small")).unwrap(), b"kept");
        drop(f);
        drop(disk);
        // Unmounted: the mount point is gone with the temp dir.
        assert!(!mounted.exists());
    }
}
