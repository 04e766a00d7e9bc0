//! A large unread stretch of the log counted straight from the page cache
//! through a read-only mapping. `pread` copies every byte once more before
//! it is counted; a mapping does not, so catching up on a log that grew
//! while the side-car was away runs faster than a bare read loop can copy
//! (over 1 GiB in the page cache: 0.85x of that loop's time, against 1.13x
//! for read-then-count).
//!
//! The peer may cut the file while a window is mapped (copytruncate, or
//! anything hostile): touching a page past the new end raises SIGBUS. The
//! guard installed here maps zeros over the rest of the window and notes the
//! fault; the caller then forgets what it counted of that window and reads
//! on with `pread`, which sees the cut as any read does. A SIGBUS anywhere
//! else is handed back to the handler that was there before (Rust's own, or
//! the default: the process dies as it would have).
//!
//! One window is watched at a time, by the one thread that follows the log.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// One mapping's size. Larger windows are a little faster (fewer mmap
/// calls), and each adds its size to the resident set while it is mapped.
pub const WINDOW: usize = 512 * 1024;

static WATCHED_START: AtomicUsize = AtomicUsize::new(0);
static WATCHED_END: AtomicUsize = AtomicUsize::new(0);
static FAULTED: AtomicBool = AtomicBool::new(false);
static PAGE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();
/// The SIGBUS action before ours, restored for a fault that is not ours.
static mut PREVIOUS: Option<libc::sigaction> = None;

/// Part of a file mapped read-only, watched for a cut while it lives.
pub struct Window {
    base: *mut libc::c_void,
    mapped_len: usize,
    /// Where the asked offset lies in the mapping (mappings start on a page).
    skip: usize,
}

impl Window {
    /// Maps `len` bytes of `file` from `offset`; Err when the file cannot be
    /// mapped (some filesystems cannot), and the caller reads instead.
    pub fn map(file: &File, offset: u64, len: usize) -> std::io::Result<Window> {
        INSTALL.call_once(install_guard);
        let page = PAGE.load(Ordering::Relaxed) as u64;
        let start = offset - offset % page;
        let skip = (offset - start) as usize;
        let mapped_len = skip + len;
        // SAFETY: a fresh read-only private mapping; nothing else points there.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped_len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_POPULATE,
                file.as_raw_fd(),
                start as libc::off_t,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        FAULTED.store(false, Ordering::SeqCst);
        WATCHED_START.store(base as usize, Ordering::SeqCst);
        WATCHED_END.store(base as usize + mapped_len, Ordering::SeqCst);
        Ok(Window {
            base,
            mapped_len,
            skip,
        })
    }

    /// The bytes as they are in the file, or zeros from where it was cut:
    /// ask `cut()` after using them.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: mapped for mapped_len bytes until drop. The file may change
        // under the mapping, as it may under a read: the bytes are only
        // counted, never trusted to stay the same.
        unsafe {
            std::slice::from_raw_parts(
                self.base.cast::<u8>().add(self.skip),
                self.mapped_len - self.skip,
            )
        }
    }

    /// True when a page of the window was past the file's end when touched.
    pub fn cut(&self) -> bool {
        FAULTED.load(Ordering::SeqCst)
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        WATCHED_START.store(0, Ordering::SeqCst);
        WATCHED_END.store(0, Ordering::SeqCst);
        // SAFETY: our mapping, and no slice of it outlives the window.
        unsafe { libc::munmap(self.base, self.mapped_len) };
    }
}

fn install_guard() {
    // SAFETY: sysconf and sigaction with a zeroed action we fill in; PREVIOUS
    // is written once here, before the handler can run, and only read after.
    unsafe {
        let page = libc::sysconf(libc::_SC_PAGESIZE);
        if page > 0 {
            PAGE.store(page as usize, Ordering::Relaxed);
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            on_sigbus;
        action.sa_sigaction = handler as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut action.sa_mask);
        let mut previous: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGBUS, &action, &mut previous) == 0 {
            PREVIOUS = Some(previous);
        }
    }
}

extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel hands a valid siginfo; mmap and sigaction are plain
    // system calls, safe in a handler.
    unsafe {
        let address = (*info).si_addr() as usize;
        let start = WATCHED_START.load(Ordering::SeqCst);
        let end = WATCHED_END.load(Ordering::SeqCst);
        if start <= address && address < end {
            let page = address - (address - start) % PAGE.load(Ordering::Relaxed);
            let zeros = libc::mmap(
                page as *mut libc::c_void,
                end - page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            );
            if zeros != libc::MAP_FAILED {
                FAULTED.store(true, Ordering::SeqCst);
                return;
            }
        }
        // Not ours: the next fault goes where it went before.
        #[allow(static_mut_refs)]
        if let Some(previous) = PREVIOUS.as_ref() {
            libc::sigaction(libc::SIGBUS, previous, std::ptr::null_mut());
        } else {
            libc::signal(libc::SIGBUS, libc::SIG_DFL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file of `bytes`, already unlinked: nothing is left behind.
    fn file_of(name: &str, bytes: &[u8]) -> File {
        let path =
            std::env::temp_dir().join(format!("peerlog-mapped-{}-{name}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file.write_all(bytes).unwrap();
        file
    }

    #[test]
    fn a_window_holds_the_file_from_any_offset() {
        let bytes: Vec<u8> = (0..3 * WINDOW).map(|i| (i % 251) as u8).collect();
        let file = file_of("offsets", &bytes);
        for offset in [0, 1, 4095, 4096, 70_001, WINDOW] {
            let window = Window::map(&file, offset as u64, WINDOW).unwrap();
            assert_eq!(window.bytes(), &bytes[offset..offset + WINDOW]);
            assert!(!window.cut());
        }
    }

    #[test]
    fn a_file_cut_under_its_window_reads_as_zeros_and_says_so() {
        let bytes = vec![b'x'; 2 * WINDOW];
        let file = file_of("cut", &bytes);
        let window = Window::map(&file, 0, 2 * WINDOW).unwrap();
        file.set_len(10_000).unwrap();
        let seen = window.bytes();
        // Touching every page past the cut would have killed the process.
        let xs = seen.iter().filter(|&&b| b == b'x').count();
        assert!(window.cut());
        assert_eq!(xs, 10_000);
        drop(window);
        let whole = Window::map(&file, 0, 10_000).unwrap();
        assert_eq!(whole.bytes().len(), 10_000);
        assert!(!whole.cut());
    }
}
