//! Reader for the IDX format of MNIST and Fashion-MNIST (`*-ubyte`, optionally gzipped).
//!
//! Layout: a 4-byte magic `0x00 0x00 <type> <ndims>`, then `ndims` big-endian u32 sizes,
//! then the data. Only unsigned bytes (type 0x08) occur in these datasets.

use std::io::Read;
use std::path::Path;

use super::DataError;

/// Decoded IDX contents: the dimension sizes and the raw bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads an IDX file, transparently un-gzipping it when it starts with the gzip magic.
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| DataError::format(path, format!("not a valid gzip stream: {e}")))?;
        out
    } else {
        raw
    };
    parse_idx(&bytes).map_err(|problem| DataError::format(path, problem))
}

/// Parses IDX bytes; the error says what is wrong, the caller adds the file name.
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray, String> {
    if bytes.len() < 4 {
        return Err(format!(
            "truncated: {} bytes, too short for the IDX header",
            bytes.len()
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!(
            "wrong magic number {:02x}{:02x}{:02x}{:02x}: not an IDX file",
            bytes[0], bytes[1], bytes[2], bytes[3]
        ));
    }
    if bytes[2] != 0x08 {
        return Err(format!(
            "element type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
            bytes[2]
        ));
    }
    let ndims = bytes[3] as usize;
    if ndims == 0 || ndims > 4 {
        return Err(format!(
            "{ndims} dimensions is not a valid image or label file"
        ));
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err("truncated inside the header".into());
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|d| {
            let o = 4 + 4 * d;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or("dimension sizes overflow")?;
    let body = &bytes[header..];
    if body.len() < expected {
        return Err(format!(
            "truncated: header promises {expected} bytes of data ({dims:?}), file has {}",
            body.len()
        ));
    }
    Ok(IdxArray {
        dims,
        data: body[..expected].to_vec(),
    })
}

/// Writes an uncompressed IDX byte array (used by tests and asset tooling).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = encode_idx(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let plain = dir.path().join("x-ubyte");
        std::fs::write(&plain, &bytes).unwrap();
        let gz = dir.path().join("x-ubyte.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &bytes).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        for p in [plain, gz] {
            let a = read_idx(&p).unwrap();
            assert_eq!(a.dims, vec![2, 2, 3]);
            assert_eq!(a.data[11], 12);
        }
    }

    #[test]
    fn bad_files_name_the_problem() {
        let check = |bytes: &[u8], needle: &str| {
            let err = parse_idx(bytes).unwrap_err();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        };
        check(&[0, 0], "too short");
        check(&[0x50, 0x4b, 3, 4, 0, 0, 0, 0], "wrong magic");
        check(&[0, 0, 0x0d, 1, 0, 0, 0, 1], "not supported");
        let mut truncated = encode_idx(&[10, 28, 28], &[0; 100]);
        truncated.truncate(50);
        check(&truncated, "truncated");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_idx(Path::new("/nonexistent/train-images-idx3-ubyte.gz")).unwrap_err();
        assert!(err.to_string().contains("train-images-idx3-ubyte.gz"));
    }
}
