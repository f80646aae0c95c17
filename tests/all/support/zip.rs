//! A minimal zip writer (stored, no compression) for Lambda code packages in tests.

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive holding the given files.
pub fn zip(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, text) in files {
        let (name, data) = (name.as_bytes(), text.as_bytes());
        let crc = crc32(data);
        let offset = out.len() as u32;
        let size = data.len() as u32;
        let le16 = |v: u16| v.to_le_bytes();
        let le32 = |v: u32| v.to_le_bytes();
        // Local file header.
        out.extend_from_slice(&le32(0x0403_4b50));
        for v in [20u16, 0, 0, 0, 0x21] {
            out.extend_from_slice(&le16(v));
        }
        out.extend_from_slice(&le32(crc));
        out.extend_from_slice(&le32(size));
        out.extend_from_slice(&le32(size));
        out.extend_from_slice(&le16(name.len() as u16));
        out.extend_from_slice(&le16(0));
        out.extend_from_slice(name);
        out.extend_from_slice(data);
        // Central directory entry.
        central.extend_from_slice(&le32(0x0201_4b50));
        for v in [20u16, 20, 0, 0, 0, 0x21] {
            central.extend_from_slice(&le16(v));
        }
        central.extend_from_slice(&le32(crc));
        central.extend_from_slice(&le32(size));
        central.extend_from_slice(&le32(size));
        central.extend_from_slice(&le16(name.len() as u16));
        for v in [0u16, 0, 0, 0] {
            central.extend_from_slice(&le16(v));
        }
        central.extend_from_slice(&le32(0));
        central.extend_from_slice(&le32(offset));
        central.extend_from_slice(name);
    }
    let directory_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, files.len() as u16, files.len() as u16] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&directory_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[test]
fn crc32_matches_the_standard_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}
