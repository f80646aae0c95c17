//! Reading the project's own files safely: only regular files, and only up to a limit, so a
//! FIFO named `deploy.toml` cannot block the tool and `/dev/zero` cannot exhaust its memory.

use std::io::Read;
use std::path::Path;

/// Why a bounded read failed.
#[derive(Debug)]
pub enum ReadError {
    /// A directory, FIFO, socket or device: nothing a project file can be.
    NotRegular,
    TooLarge {
        limit: usize,
    },
    Io(std::io::Error),
}

/// The bytes of the regular file at `path`, at most `limit` of them. The kind is checked
/// before the file is opened: opening a FIFO for reading blocks until a writer comes.
pub fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, ReadError> {
    let metadata = std::fs::metadata(path).map_err(ReadError::Io)?;
    if !metadata.is_file() {
        return Err(ReadError::NotRegular);
    }
    if metadata.len() > limit as u64 {
        return Err(ReadError::TooLarge { limit });
    }
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // One byte more than allowed: a file that grew since the check is caught too.
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = std::env::temp_dir().join(format!("facturactl-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("deploy.toml");
        std::fs::write(&file, "a = 1\n").unwrap();
        assert_eq!(read_bounded(&file, 6).unwrap(), b"a = 1\n");
        assert!(matches!(
            read_bounded(&file, 5),
            Err(ReadError::TooLarge { limit: 5 })
        ));
        assert!(matches!(
            read_bounded(&dir, 100),
            Err(ReadError::NotRegular)
        ));
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 100),
            Err(ReadError::NotRegular)
        ));
        assert!(matches!(
            read_bounded(&dir.join("missing"), 100),
            Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
