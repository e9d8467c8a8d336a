//! The one size-capped file reader for everything read from outside (configs, keymaps, themes,
//! model files, label and series files, recordings, exposition bodies on stdin). It reads at
//! most one byte past the cap instead of trusting the file's reported length, so a device
//! (`/dev/zero`), a FIFO or a file that grows while it is read cannot exhaust memory. Callers
//! word the error for their file kind; this module touches nothing else.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Why a capped read gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum CappedError {
    #[error("cannot open: {0}")]
    Open(#[source] io::Error),
    #[error("cannot read: {0}")]
    Read(#[source] io::Error),
    #[error("larger than {cap} bytes")]
    TooLarge { cap: u64 },
}

/// Everything `reader` yields, when that is at most `cap` bytes.
pub fn read_to_end(reader: impl Read, cap: u64) -> Result<Vec<u8>, CappedError> {
    let mut bytes = Vec::new();
    // One byte past the cap tells "exactly at the cap" from "over it".
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(CappedError::Read)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > cap {
        return Err(CappedError::TooLarge { cap });
    }
    Ok(bytes)
}

/// The whole file at `path`, when it is at most `cap` bytes.
pub fn read_file(path: &Path, cap: u64) -> Result<Vec<u8>, CappedError> {
    let file = File::open(path).map_err(CappedError::Open)?;
    read_to_end(file, cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_is_read_and_one_past_is_refused() {
        assert_eq!(read_to_end(&b"abcd"[..], 4).ok(), Some(b"abcd".to_vec()));
        assert!(matches!(
            read_to_end(&b"abcde"[..], 4),
            Err(CappedError::TooLarge { cap: 4 })
        ));
        assert_eq!(read_to_end(&b""[..], 0).ok(), Some(Vec::new()));
    }

    #[test]
    fn an_endless_device_stops_at_the_cap() {
        // /dev/zero reports a length of 0 and never ends: the reported size is not trusted.
        let r = read_file(Path::new("/dev/zero"), 1 << 16);
        assert!(
            matches!(r, Err(CappedError::TooLarge { cap: 65536 })),
            "{r:?}"
        );
    }

    #[test]
    fn a_missing_file_is_an_open_error() {
        let r = read_file(Path::new("/nonexistent/nocscope-capped"), 10);
        assert!(matches!(r, Err(CappedError::Open(_))), "{r:?}");
    }
}
