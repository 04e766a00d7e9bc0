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
pub fn read_regular(path: &std::path::Path, cap: u64) -> Result<Vec<u8>, FileError> {
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
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
        return Err(FileError::NotRegular(what));
    }
    if meta.len() > cap {
        return Err(FileError::TooLarge {
            len: meta.len(),
            cap,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(FileError::Grew { cap });
    }
    Ok(bytes)
}

/// Why a file was not read: its kind for the code, its words for the line
/// (without the path, which the caller names with its flag).
#[derive(Debug, Clone, PartialEq)]
pub enum FileError {
    /// The system's error, by kind, in its words.
    Io(std::io::ErrorKind, String),
    /// A directory, a FIFO, a device or a socket.
    NotRegular(&'static str),
    TooLarge {
        len: u64,
        cap: u64,
    },
    /// Past the cap while it was read.
    Grew {
        cap: u64,
    },
}

impl From<std::io::Error> for FileError {
    fn from(error: std::io::Error) -> FileError {
        FileError::Io(error.kind(), error.to_string())
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Io(_, words) => f.write_str(words),
            FileError::NotRegular(what) => write!(f, "is {what}, not a regular file"),
            FileError::TooLarge { len, cap } => {
                write!(f, "is {len} bytes, more than the {cap} such a file can be")
            }
            FileError::Grew { cap } => write!(f, "grew past the {cap} bytes such a file can be"),
        }
    }
}

impl std::error::Error for FileError {}

#[cfg(test)]
mod tests {
    use super::{read_regular, FileError};
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
        let too_large = read_regular(&path, 3).unwrap_err();
        assert_eq!(too_large, FileError::TooLarge { len: 4, cap: 3 });
        assert_eq!(
            too_large.to_string(),
            "is 4 bytes, more than the 3 such a file can be"
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
        let said = |path: &Path| read_regular(path, 1 << 20).unwrap_err().to_string();
        assert_eq!(said(&fifo), "is a FIFO (named pipe), not a regular file");
        assert_eq!(
            said(Path::new("/dev/zero")),
            "is a device, not a regular file"
        );
        assert_eq!(said(&dir()), "is a directory, not a regular file");
        assert!(matches!(
            read_regular(Path::new("/nonexistent/x"), 1),
            Err(FileError::Io(std::io::ErrorKind::NotFound, _))
        ));
    }
}
