//! Files named on the command line (`--tz`, and with HTTPS `--ca-file`,
//! `--cert`, `--key`), read with bounds: a mistyped path or a ConfigMap
//! mounted in the wrong place gets one clear line, never a hang on a FIFO
//! or an allocation without end from `/dev/zero`.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

/// Reads `path` whole when it is a regular file of at most `cap` bytes.
/// Opened non-blocking, so that a FIFO with no writer does not hang the
/// open; refused as anything but a regular file before a byte is read; read
/// up to one byte past the cap, so that a file that grows meanwhile is
/// refused too. The error names what was found, without the path (the
/// caller names it, with its flag).
pub fn read_regular(path: &std::path::Path, cap: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    let kind = meta.file_type();
    if !kind.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(format!("is {what}, not a regular file"));
    }
    if meta.len() > cap {
        return Err(format!(
            "is {} bytes, more than the {cap} such a file can be",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > cap {
        return Err(format!("grew past the {cap} bytes such a file can be"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::read_regular;
    use std::path::Path;

    fn dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sidecars-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_regular_file_within_the_cap_is_read_whole() {
        let path = dir().join("small");
        std::fs::write(&path, b"TZif").unwrap();
        assert_eq!(read_regular(&path, 4), Ok(b"TZif".to_vec()));
        assert_eq!(
            read_regular(&path, 3),
            Err("is 4 bytes, more than the 3 such a file can be".into())
        );
    }

    #[test]
    fn anything_else_is_refused_at_once_naming_what_it_is() {
        let fifo = dir().join("fifo");
        let _ = std::fs::remove_file(&fifo);
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer: a blocking open would hang here.
        assert_eq!(
            read_regular(&fifo, 1 << 20),
            Err("is a FIFO (named pipe), not a regular file".into())
        );
        assert_eq!(
            read_regular(Path::new("/dev/zero"), 1 << 20),
            Err("is a device, not a regular file".into())
        );
        assert_eq!(
            read_regular(&dir(), 1 << 20),
            Err("is a directory, not a regular file".into())
        );
        assert!(read_regular(Path::new("/nonexistent/x"), 1)
            .unwrap_err()
            .contains("No such file"));
    }
}
