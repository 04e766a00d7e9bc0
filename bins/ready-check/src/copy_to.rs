//! `--copy-to DIR`: put this very executable into DIR (atomically, mode
//! 0755) and exit. A scratch image has no `cp`, so an init container of the
//! sidecars image fills an `emptyDir` this way, and the app container's exec
//! probe runs `/probe/ready-check ...` from it, on any cluster.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Copies /proc/self/exe to DIR/ready-check; returns where it went.
pub fn copy_to(dir: &Path) -> Result<PathBuf, String> {
    let fail = |what: &str, e: std::io::Error| format!("--copy-to {}: {what}: {e}", dir.display());
    let binary =
        std::fs::read("/proc/self/exe").map_err(|e| fail("cannot read this executable", e))?;
    let target = dir.join("ready-check");
    // A temporary name in the same directory, then a rename: a probe that
    // runs meanwhile finds the old file or the whole new one, never half.
    let temporary = dir.join(format!(".ready-check.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(&binary)?;
            // The mode asked for at creation is cut by the umask: set it.
            file.set_permissions(std::fs::Permissions::from_mode(0o755))?;
            file.sync_all()
        });
    if let Err(e) = written.and_then(|()| std::fs::rename(&temporary, &target)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(fail("cannot write there", e));
    }
    Ok(target)
}
