//! A Lambda package as Lambda will judge it, checked on the deployer's machine before any
//! AWS call: a zip (its central directory read, not only the `PK` of its first bytes),
//! within Lambda's size limits (GetAccountSettings' `CodeSizeZipped`, 50 MB for a package
//! uploaded directly, and `CodeSizeUnzipped`, 250 MB once extracted).

/// Lambda's `CodeSizeZipped`: a package sent in the request (`ZipFile`).
pub const MAX_ZIPPED_BYTES: u64 = 52_428_800;
/// Lambda's `CodeSizeUnzipped`: the package extracted (with its layers; we have none).
const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// Why Lambda would refuse a package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    Empty,
    NotZip(&'static str),
    NoEntries,
    TooLarge { bytes: u64 },
    TooLargeUnzipped { bytes: u64 },
}

impl Problem {
    pub fn message(&self) -> String {
        match self {
            Self::Empty => "is empty".into(),
            Self::NotZip(why) => format!("is not a zip file ({why})"),
            Self::NoEntries => "is a zip with no files in it".into(),
            Self::TooLarge { bytes } => format!(
                "has {bytes} bytes; Lambda takes at most {MAX_ZIPPED_BYTES} in a direct upload"
            ),
            Self::TooLargeUnzipped { bytes } => {
                format!("extracts to {bytes} bytes; Lambda allows at most {MAX_UNZIPPED_BYTES}")
            }
        }
    }
}

const END_OF_DIRECTORY: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
const DIRECTORY_ENTRY: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];
/// The end record is 22 bytes and may be followed by a comment of up to 65,535.
const END_RECORD: usize = 22;

/// Checks `bytes` as Lambda would: a readable zip with at least one file, within both
/// size limits. Returns the extracted size.
pub fn inspect(bytes: &[u8]) -> Result<u64, Problem> {
    inspect_within(bytes, Some(MAX_ZIPPED_BYTES))
}

/// A package Lambda reads from S3: no limit on the zip's own size (Lambda's is the
/// extracted size), the rest as `inspect`.
pub fn inspect_from_s3(bytes: &[u8]) -> Result<u64, Problem> {
    inspect_within(bytes, None)
}

fn inspect_within(bytes: &[u8], max_zipped: Option<u64>) -> Result<u64, Problem> {
    if bytes.is_empty() {
        return Err(Problem::Empty);
    }
    if max_zipped.is_some_and(|max| bytes.len() as u64 > max) {
        return Err(Problem::TooLarge {
            bytes: bytes.len() as u64,
        });
    }
    let end = end_record(bytes).ok_or(Problem::NotZip("no end of central directory"))?;
    let entries = u16le(bytes, end + 10);
    let size = u32le(bytes, end + 12) as usize;
    let offset = u32le(bytes, end + 16) as usize;
    if entries == 0 {
        return Err(Problem::NoEntries);
    }
    if entries == u16::MAX || size == u32::MAX as usize || offset == u32::MAX as usize {
        // ZIP64: only archives over 4 GB or 65,535 files need it, far past Lambda's limits.
        return Err(Problem::TooLargeUnzipped { bytes: u64::MAX });
    }
    if offset.checked_add(size).is_none_or(|e| e > end) {
        return Err(Problem::NotZip(
            "the central directory lies outside the file",
        ));
    }
    let mut at = offset;
    let mut unzipped: u64 = 0;
    for _ in 0..entries {
        if bytes.get(at..at + 4) != Some(&DIRECTORY_ENTRY[..]) || at + 46 > end {
            return Err(Problem::NotZip("a damaged central directory"));
        }
        unzipped += u64::from(u32le(bytes, at + 24));
        let name = usize::from(u16le(bytes, at + 28));
        let extra = usize::from(u16le(bytes, at + 30));
        let comment = usize::from(u16le(bytes, at + 32));
        at += 46 + name + extra + comment;
    }
    if at > end {
        return Err(Problem::NotZip("a damaged central directory"));
    }
    if unzipped > MAX_UNZIPPED_BYTES {
        return Err(Problem::TooLargeUnzipped { bytes: unzipped });
    }
    Ok(unzipped)
}

/// Where the end-of-central-directory record starts: searched backwards, as readers do,
/// since a comment may follow it.
fn end_record(bytes: &[u8]) -> Option<usize> {
    let last = bytes.len().checked_sub(END_RECORD)?;
    let first = last.saturating_sub(usize::from(u16::MAX));
    (first..=last)
        .rev()
        .find(|&i| bytes[i..i + 4] == END_OF_DIRECTORY)
}

fn u16le(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32le(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored (uncompressed) zip of `files`, as `zip -0` writes it; `claimed` overrides
    /// the uncompressed size each central directory entry states.
    fn zip(files: &[(&str, &[u8])], claimed: Option<u32>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut directory = Vec::new();
        for (name, data) in files {
            let offset = out.len() as u32;
            let size = data.len() as u32;
            out.extend_from_slice(&[0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&0u32.to_le_bytes()); // crc, unchecked here
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            directory.extend_from_slice(&[0x50, 0x4b, 0x01, 0x02, 20, 0, 20, 0, 0, 0, 0, 0]);
            directory.extend_from_slice(&[0, 0, 0, 0]); // time, date
            directory.extend_from_slice(&0u32.to_le_bytes());
            directory.extend_from_slice(&size.to_le_bytes());
            directory.extend_from_slice(&claimed.unwrap_or(size).to_le_bytes());
            directory.extend_from_slice(&(name.len() as u16).to_le_bytes());
            directory.extend_from_slice(&[0; 12]);
            directory.extend_from_slice(&offset.to_le_bytes());
            directory.extend_from_slice(name.as_bytes());
        }
        let offset = out.len() as u32;
        out.extend_from_slice(&directory);
        out.extend_from_slice(&END_OF_DIRECTORY);
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(files.len() as u16).to_le_bytes());
        out.extend_from_slice(&(directory.len() as u32).to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn a_zip_with_files_passes_with_its_extracted_size() {
        let bytes = zip(
            &[
                ("handler.py", b"def handler(e, c):\n  return 1\n"),
                ("lib.py", b"x"),
            ],
            None,
        );
        assert_eq!(inspect(&bytes), Ok(31));
    }

    #[test]
    fn what_lambda_refuses_is_refused() {
        assert_eq!(inspect(b""), Err(Problem::Empty));
        assert!(matches!(
            inspect(b"PK\x03\x04 but not a zip at all"),
            Err(Problem::NotZip(_))
        ));
        assert!(matches!(inspect(b"hello"), Err(Problem::NotZip(_))));
        assert_eq!(inspect(&zip(&[], None)), Err(Problem::NoEntries));
        let bomb = zip(&[("big.bin", b"x")], Some(300_000_000));
        assert_eq!(
            inspect(&bomb),
            Err(Problem::TooLargeUnzipped { bytes: 300_000_000 })
        );
        let mut truncated = zip(&[("a.py", b"1")], None);
        truncated.drain(10..20);
        assert!(matches!(inspect(&truncated), Err(Problem::NotZip(_))));
        let oversized = vec![0u8; MAX_ZIPPED_BYTES as usize + 1];
        assert!(matches!(inspect(&oversized), Err(Problem::TooLarge { .. })));
    }

    #[test]
    fn a_zip_python_writes_passes() {
        // A deflated zip as build tools write them goes through the same reader.
        let python = std::process::Command::new("python3")
            .args([
                "-c",
                "import io,zipfile,sys\nb=io.BytesIO()\nz=zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED)\nz.writestr('h.py','x'*1000)\nz.close()\nsys.stdout.buffer.write(b.getvalue())",
            ])
            .output()
            .expect("python3");
        assert!(python.status.success());
        assert_eq!(inspect(&python.stdout), Ok(1000));
    }
}
