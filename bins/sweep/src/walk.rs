//! The directory tree, by file descriptor, as systemd-tmpfiles walks it:
//! each level opened with `openat(parent, name, O_NOFOLLOW|O_DIRECTORY)`
//! and checked to be the directory `statx` saw (a swap to a symlink or
//! another directory in between is refused), entries looked at with
//! `statx(AT_SYMLINK_NOFOLLOW)`, deleted with `unlinkat` on their
//! directory's descriptor. No path string is ever resolved again, no
//! `chdir`, no `rename`: what DIR's owner swaps mid-walk cannot lead outside.

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What `statx` says of one entry.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub kind: Kind,
    pub dev: (u32, u32),
    pub ino: u64,
    pub nlink: u32,
    /// Bytes on disk: st_blocks * 512, as the kubelet counts.
    pub bytes: u64,
    pub mtime: i64,
    pub atime: i64,
    /// The mount the entry is on; None where the kernel does not say.
    pub mnt_id: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    File,
    Symlink,
    Dir,
    /// A FIFO, a socket or a device: never opened, never deleted.
    Special,
}

/// An open directory, read entry by entry.
pub struct Dir {
    stream: *mut libc::DIR,
}

// SAFETY: a DIR stream is used by one thread at a time (the walk's).
unsafe impl Send for Dir {}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: the stream is ours and closed once (this closes its fd).
        unsafe { libc::closedir(self.stream) };
    }
}

impl Dir {
    /// DIR itself, as the user named it (its own symlinks followed).
    pub fn open_root(path: &Path) -> io::Result<Dir> {
        let c = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))?;
        // SAFETY: a valid C string; the flags open a directory read-only.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        Dir::from_fd(fd)
    }

    /// The subdirectory `name`, if it is still the directory `seen` was:
    /// never through a symlink, never another inode swapped in since.
    pub fn open_child(&self, name: &CStr, seen: &Meta) -> io::Result<Dir> {
        // SAFETY: a valid directory fd and C string.
        let fd = unsafe {
            libc::openat(
                self.fd(),
                name.as_ptr(),
                libc::O_RDONLY
                    | libc::O_DIRECTORY
                    | libc::O_NOFOLLOW
                    | libc::O_CLOEXEC
                    | libc::O_NONBLOCK,
            )
        };
        let dir = Dir::from_fd(fd)?;
        let now = dir.meta()?;
        if (now.dev, now.ino) != (seen.dev, seen.ino) {
            return Err(io::Error::other("changed while being looked at"));
        }
        Ok(dir)
    }

    fn from_fd(fd: libc::c_int) -> io::Result<Dir> {
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is an open directory descriptor, given to the stream.
        let stream = unsafe { libc::fdopendir(fd) };
        if stream.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so fd is still ours to close.
            unsafe { libc::close(fd) };
            return Err(e);
        }
        Ok(Dir { stream })
    }

    pub fn fd(&self) -> libc::c_int {
        // SAFETY: the stream is open.
        unsafe { libc::dirfd(self.stream) }
    }

    /// This directory's own metadata.
    pub fn meta(&self) -> io::Result<Meta> {
        statx(self.fd(), c"", libc::AT_EMPTY_PATH)
    }

    /// The next entry's name, `.` and `..` left out; None at the end.
    pub fn next_name(&mut self) -> Option<io::Result<CString>> {
        loop {
            // SAFETY: errno is thread-local; cleared to tell the end from an error.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: the stream is open; the entry is copied before the next call.
            let entry = unsafe { libc::readdir(self.stream) };
            if entry.is_null() {
                let errno = io::Error::last_os_error();
                return (errno.raw_os_error() != Some(0)).then_some(Err(errno));
            }
            // SAFETY: d_name is a NUL-terminated name inside the entry.
            let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
            if name.to_bytes() != b"." && name.to_bytes() != b".." {
                return Some(Ok(name.to_owned()));
            }
        }
    }

    /// `name`'s metadata, never following it.
    pub fn meta_of(&self, name: &CStr) -> io::Result<Meta> {
        statx(self.fd(), name, libc::AT_SYMLINK_NOFOLLOW)
    }

    /// Deletes the file or symlink `name` in this directory.
    pub fn unlink(&self, name: &CStr) -> io::Result<()> {
        // SAFETY: a valid directory fd and C string.
        if unsafe { libc::unlinkat(self.fd(), name.as_ptr(), 0) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Deletes the empty directory `name` in this directory.
    pub fn rmdir(&self, name: &CStr) -> io::Result<()> {
        // SAFETY: a valid directory fd and C string.
        if unsafe { libc::unlinkat(self.fd(), name.as_ptr(), libc::AT_REMOVEDIR) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

fn statx(dirfd: libc::c_int, name: &CStr, flags: libc::c_int) -> io::Result<Meta> {
    // SAFETY: statx is plain data that the kernel fills.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let mask = libc::STATX_BASIC_STATS | libc::STATX_MNT_ID;
    // SAFETY: valid fd, C string and buffer; the raw syscall, as musl's
    // wrapper is not in every libc the binaries link.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_statx,
            dirfd,
            name.as_ptr(),
            flags | libc::AT_STATX_SYNC_AS_STAT,
            mask,
            &mut stx as *mut libc::statx,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let kind = match u32::from(stx.stx_mode) & libc::S_IFMT {
        libc::S_IFREG => Kind::File,
        libc::S_IFLNK => Kind::Symlink,
        libc::S_IFDIR => Kind::Dir,
        _ => Kind::Special,
    };
    Ok(Meta {
        kind,
        dev: (stx.stx_dev_major, stx.stx_dev_minor),
        ino: stx.stx_ino,
        nlink: stx.stx_nlink,
        bytes: stx.stx_blocks.saturating_mul(512),
        mtime: stx.stx_mtime.tv_sec,
        atime: stx.stx_atime.tv_sec,
        mnt_id: (stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id),
    })
}
