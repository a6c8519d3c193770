//! Reader for the IDX format of MNIST and Fashion-MNIST (`*-ubyte`, optionally gzipped).
//!
//! Layout: a 4-byte magic `0x00 0x00 <type> <ndims>`, then `ndims` big-endian u32 sizes,
//! then the data. Only unsigned bytes (type 0x08) occur in these datasets.
//!
//! Written here rather than taken from a crate: the MNIST crates read whole files without
//! checking a header against the file, and the reader's job here is exactly that bound
//! (a hostile header must be refused before anything is allocated).

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::DataError;

/// Decoded IDX contents: the dimension sizes and the raw bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
    /// What was odd but usable (data past what the header declares).
    pub warnings: Vec<String>,
}

/// The most data one IDX file may declare: 8 GiB (MNIST's largest file is 47 MB, EMNIST's
/// 700 MB). A header asking for more is refused before anything is allocated.
pub const MAX_IDX_BYTES: u64 = 8 << 30;

/// deflate's largest compression ratio: a gzip file cannot inflate to more than this many
/// times its size, so a header promising more is refused before reading.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Reads an IDX file, transparently un-gzipping it when it starts with the gzip magic.
/// Reads what the header declares and no more: the header is checked against the file's
/// size (and the limits above) before the data is allocated, and anything after the data
/// is reported as a warning, not read.
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(DataError::format(
            path,
            "not a regular file (a device, pipe or folder); IDX files are read from disk",
        ));
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let gzipped = file.read(&mut magic).map_err(io)? == 2 && magic == [0x1f, 0x8b];
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let source = if gzipped {
        Source::Gzip {
            compressed: meta.len(),
        }
    } else {
        Source::Plain { len: meta.len() }
    };
    let reader: Box<dyn Read> = if gzipped {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    read_idx_from(reader, source).map_err(|problem| DataError::format(path, problem))
}

/// What the bytes come from, for the size checks.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    Plain {
        len: u64,
    },
    Gzip {
        compressed: u64,
    },
    /// Bytes already in memory, `len` of them.
    Memory {
        len: u64,
    },
}

/// Parses IDX bytes; the error says what is wrong, the caller adds the file name.
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray, String> {
    read_idx_from(
        bytes,
        Source::Memory {
            len: bytes.len() as u64,
        },
    )
}

fn read_idx_from(mut r: impl Read, source: Source) -> Result<IdxArray, String> {
    let gzip_error = |e: std::io::Error| match source {
        Source::Gzip { .. } => format!("not a valid gzip stream: {e}"),
        _ => format!("cannot read: {e}"),
    };
    let dims = read_header(&mut r, gzip_error)?;
    let ndims = dims.len();
    let expected = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&n| n <= MAX_IDX_BYTES)
        .ok_or_else(|| {
            format!(
                "the header declares {dims:?}, more than the {} GiB an IDX file may hold here",
                MAX_IDX_BYTES >> 30
            )
        })?;
    let header = 4 + 4 * ndims as u64;
    let room = match source {
        Source::Plain { len } | Source::Memory { len } => len.saturating_sub(header),
        Source::Gzip { compressed } => compressed.saturating_mul(MAX_DEFLATE_RATIO),
    };
    if expected > room {
        return Err(match source {
            Source::Gzip { compressed } => format!(
                "truncated: header promises {expected} bytes of data ({dims:?}), more than a \
                 {compressed}-byte gzip file can hold"
            ),
            _ => format!(
                "truncated: header promises {expected} bytes of data ({dims:?}), file has {room}"
            ),
        });
    }
    let mut data = Vec::with_capacity(expected as usize);
    (&mut r)
        .take(expected)
        .read_to_end(&mut data)
        .map_err(gzip_error)?;
    if (data.len() as u64) < expected {
        return Err(format!(
            "truncated: header promises {expected} bytes of data ({dims:?}), file has {}",
            data.len()
        ));
    }
    let mut warnings = Vec::new();
    match source {
        Source::Plain { len } | Source::Memory { len } if len > header + expected => {
            warnings.push(format!(
                "{} bytes after the {expected} the header declares are ignored",
                len - header - expected
            ));
        }
        Source::Gzip { .. } => {
            let mut one = [0u8; 1];
            if read_up_to(&mut r, &mut one).unwrap_or(0) > 0 {
                warnings.push(format!(
                    "data continues after the {expected} bytes the header declares; the rest \
                     is ignored"
                ));
            }
        }
        _ => {}
    }
    Ok(IdxArray {
        dims,
        data,
        warnings,
    })
}

/// The IDX header: magic (unsigned bytes only) and the dimensions, none of them zero.
fn read_header(
    r: &mut impl Read,
    gzip_error: impl Fn(std::io::Error) -> String,
) -> Result<Vec<usize>, String> {
    let mut head = [0u8; 4];
    let got = read_up_to(r, &mut head).map_err(&gzip_error)?;
    if got < 4 {
        return Err(format!(
            "truncated: {got} bytes, too short for the IDX header"
        ));
    }
    if head[0] != 0 || head[1] != 0 {
        return Err(format!(
            "wrong magic number {:02x}{:02x}{:02x}{:02x}: not an IDX file",
            head[0], head[1], head[2], head[3]
        ));
    }
    if head[2] != 0x08 {
        return Err(format!(
            "element type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
            head[2]
        ));
    }
    let ndims = head[3] as usize;
    if ndims == 0 || ndims > 4 {
        return Err(format!(
            "{ndims} dimensions is not a valid image or label file"
        ));
    }
    let mut raw = vec![0u8; 4 * ndims];
    if read_up_to(r, &mut raw).map_err(&gzip_error)? < raw.len() {
        return Err("truncated inside the header".into());
    }
    let dims: Vec<usize> = raw
        .chunks(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    if dims.contains(&0) {
        return Err(format!(
            "the header declares a zero-sized dimension {dims:?}: no data to read"
        ));
    }
    Ok(dims)
}

/// Fills `buf` as far as the stream goes; returns how many bytes it got.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
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
    fn hostile_headers_are_refused_before_anything_is_allocated() {
        // 50 million 0x0 images in a 16-byte file once asked for 153 GB.
        let zero = encode_idx(&[50_000_000, 0, 0], &[]);
        assert!(parse_idx(&zero).unwrap_err().contains("zero-sized"));
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("train-images-idx3-ubyte");
        std::fs::write(&big, encode_idx(&[2_000_000, 28, 28], &[])).unwrap();
        let err = read_idx(&big).unwrap_err().to_string();
        assert!(
            err.contains("promises") && err.contains("train-images"),
            "{err}"
        );
        std::fs::write(&big, encode_idx(&[50_000_000, 28, 28], &[])).unwrap();
        let err = read_idx(&big).unwrap_err().to_string();
        assert!(err.contains("GiB"), "{err}");
        // A tiny gzip cannot hold gigabytes.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &encode_idx(&[2_000_000, 28, 28], &[])).unwrap();
        let gz = dir.path().join("t10k-images-idx3-ubyte.gz");
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let err = read_idx(&gz).unwrap_err().to_string();
        assert!(err.contains("gzip file can hold"), "{err}");
    }

    #[test]
    fn reads_stop_at_the_declared_data_and_say_what_follows() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = encode_idx(&[2, 2, 2], &[7; 8]);
        bytes.extend_from_slice(&[0; 1000]);
        let plain = dir.path().join("x-ubyte");
        std::fs::write(&plain, &bytes).unwrap();
        let a = read_idx(&plain).unwrap();
        assert_eq!(a.data, vec![7; 8]);
        assert!(a.warnings[0].contains("1000 bytes"), "{:?}", a.warnings);
        // A gzip bomb: 10 MB of zeros after the declared 8 bytes is not read.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut enc, &encode_idx(&[2, 2, 2], &[7; 8])).unwrap();
        std::io::Write::write_all(&mut enc, &vec![0u8; 10 << 20]).unwrap();
        let gz = dir.path().join("x-ubyte.gz");
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let a = read_idx(&gz).unwrap();
        assert_eq!(a.data.len(), 8);
        assert!(a.warnings[0].contains("ignored"), "{:?}", a.warnings);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_a_device_is_refused_not_read_forever() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("train-images-idx3-ubyte");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let err = read_idx(&link).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_idx(Path::new("/nonexistent/train-images-idx3-ubyte.gz")).unwrap_err();
        assert!(err.to_string().contains("train-images-idx3-ubyte.gz"));
    }
}
