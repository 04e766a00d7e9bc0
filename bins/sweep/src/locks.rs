//! Files in use: the inodes some process holds a lock on (flock, POSIX or
//! OFD), from /proc/locks, read once per pass. Looking there takes no lock
//! of our own, so an app's `LOCK_NB` never fails because of a probe.

use std::collections::HashSet;

/// /proc/locks is a line per lock; a host's can be long, ours is bounded.
const MAX_LOCKS_FILE: u64 = 4 << 20;

#[derive(Default)]
pub struct Locked(HashSet<(u32, u32, u64)>);

impl Locked {
    /// The locks now held, or why they cannot be known.
    pub fn read() -> Result<Locked, common::file::FileError> {
        let text = common::file::read_regular(std::path::Path::new("/proc/locks"), MAX_LOCKS_FILE)?;
        Ok(Locked::parse(&String::from_utf8_lossy(&text)))
    }

    /// Lines such as `1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF`
    /// (`-> ` before a lock that waits): the `MAJOR:MINOR:INODE` field, the
    /// device numbers in hex.
    pub fn parse(text: &str) -> Locked {
        let mut set = HashSet::new();
        for line in text.lines() {
            let inode = line.split_whitespace().find_map(|word| {
                let mut parts = word.split(':');
                let (major, minor, ino) = (parts.next()?, parts.next()?, parts.next()?);
                if parts.next().is_some() {
                    return None;
                }
                Some((
                    u32::from_str_radix(major, 16).ok()?,
                    u32::from_str_radix(minor, 16).ok()?,
                    ino.parse::<u64>().ok()?,
                ))
            });
            if let Some(inode) = inode {
                set.insert(inode);
            }
        }
        Locked(set)
    }

    pub fn holds(&self, dev: (u32, u32), ino: u64) -> bool {
        self.0.contains(&(dev.0, dev.1, ino))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Locked;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any lines: read without a panic, and a lock line's inode found
        /// whatever surrounds it.
        #[test]
        fn any_lines_are_read(
            junk in "[ -~\n:]{0,200}",
            (major, minor, ino) in (any::<u32>(), any::<u32>(), any::<u64>()),
        ) {
            let line = format!("1: FLOCK  ADVISORY  WRITE 1 {major:x}:{minor:x}:{ino} 0 EOF");
            let locks = Locked::parse(&format!("{junk}\n{line}\n{junk}"));
            prop_assert!(locks.holds((major, minor), ino));
        }

        #[test]
        fn arbitrary_bytes_are_read(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Locked::parse(&String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn every_kind_of_lock_line_is_read() {
        let locks = Locked::parse(
            "1: POSIX  ADVISORY  WRITE 1234 00:2e:100 0 EOF\n\
             2: FLOCK  ADVISORY  WRITE 99 fd:01:200 0 EOF\n\
             3: OFDLCK ADVISORY  READ  -1 08:11:300 0 EOF\n\
             3: -> OFDLCK ADVISORY  READ  -1 08:11:301 0 EOF\n\
             garbage line\n",
        );
        assert_eq!(locks.len(), 4);
        assert!(locks.holds((0, 0x2e), 100));
        assert!(locks.holds((0xfd, 1), 200));
        assert!(locks.holds((8, 0x11), 300));
        assert!(!locks.holds((8, 0x11), 302));
    }
}
