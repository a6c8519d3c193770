//! WebSocket frames (RFC 6455, section 5.2) read one header at a time, so that a length a
//! peer announces is checked against a limit before a byte of its payload is read or any
//! memory is set aside for it. Written by hand: the frame header is 2 to 14 bytes with one
//! length rule, and the WebSocket crates in the tree (tungstenite) reserve the announced
//! length as soon as they have parsed it, which is what the guard exists to prevent.

use std::io::{self, Read, Write};

pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// One frame's header, with its bytes as read (forwarded unchanged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub len: u64,
    pub raw: Vec<u8>,
}

impl FrameHeader {
    pub fn is_control(&self) -> bool {
        self.opcode >= OP_CLOSE
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("a frame of {len} bytes, over the limit of {max}")]
    TooLong { len: u64, max: u64 },
    #[error("not a WebSocket frame: {0}")]
    Malformed(&'static str),
}

/// Reads one frame header and refuses a payload longer than `max` (before reading it).
pub fn read_header(r: &mut impl Read, max: u64) -> Result<FrameHeader, FrameError> {
    let mut raw = vec![0u8; 2];
    r.read_exact(&mut raw)?;
    let (fin, rsv, opcode) = (raw[0] & 0x80 != 0, raw[0] & 0x70, raw[0] & 0x0F);
    let masked = raw[1] & 0x80 != 0;
    let extra = match raw[1] & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    } + if masked { 4 } else { 0 };
    raw.resize(2 + extra, 0);
    r.read_exact(&mut raw[2..])?;
    let len = match raw[1] & 0x7F {
        126 => u64::from(u16::from_be_bytes([raw[2], raw[3]])),
        127 => {
            let len = u64::from_be_bytes(raw[2..10].try_into().unwrap_or_default());
            if len >> 63 != 0 {
                return Err(FrameError::Malformed("a length with its top bit set"));
            }
            len
        }
        short => u64::from(short),
    };
    // No extension is negotiated (the guard strips the offer), so every RSV bit is 0.
    if rsv != 0 {
        return Err(FrameError::Malformed("reserved bits set"));
    }
    if !matches!(opcode, 0x0..=0x2 | 0x8..=0xA) {
        return Err(FrameError::Malformed("an unknown opcode"));
    }
    if opcode >= OP_CLOSE && (!fin || len > 125) {
        return Err(FrameError::Malformed("a fragmented or long control frame"));
    }
    if len > max {
        return Err(FrameError::TooLong { len, max });
    }
    let mask = masked.then(|| {
        let at = raw.len() - 4;
        [raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]
    });
    Ok(FrameHeader {
        fin,
        opcode,
        mask,
        len,
        raw,
    })
}

/// Copies a frame's payload of `len` bytes from `r` to `w` without holding it whole.
pub fn copy_payload(r: &mut impl Read, w: &mut impl Write, len: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(len), w)?;
    if copied < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "a frame cut short",
        ));
    }
    Ok(())
}

/// Reads a frame's payload (already bounded by `read_header`), unmasked.
pub fn read_payload(r: &mut impl Read, header: &FrameHeader) -> io::Result<Vec<u8>> {
    let len = usize::try_from(header.len).map_err(io::Error::other)?;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    if let Some(mask) = header.mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Ok(payload)
}

/// A frame from the server's side (never masked) with a payload of at most 125 bytes.
pub fn control_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len().min(125);
    let mut out = vec![0x80 | opcode, len as u8];
    out.extend_from_slice(&payload[..len]);
    out
}

/// A Close frame with its status code and reason.
pub fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    control_frame(OP_CLOSE, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: &[u8], max: u64) -> Result<FrameHeader, FrameError> {
        read_header(&mut &bytes[..], max)
    }

    #[test]
    fn lengths_of_seven_sixteen_and_sixty_four_bits() {
        let h = header(&[0x82, 0x05], 100).unwrap();
        assert_eq!((h.fin, h.opcode, h.len, h.mask), (true, OP_BINARY, 5, None));
        let h = header(&[0x02, 0xFE, 0x01, 0x00, 1, 2, 3, 4], 1000).unwrap();
        assert_eq!((h.fin, h.len, h.mask), (false, 256, Some([1, 2, 3, 4])));
        assert_eq!(h.raw.len(), 8);
        let big = [0x82, 0x7F, 0, 0, 0, 0, 0x40, 0, 0, 0];
        assert_eq!(header(&big, u64::MAX >> 1).unwrap().len, 1 << 30);
    }

    #[test]
    fn a_long_frame_is_refused_before_its_payload() {
        // 1 GiB announced, no payload sent: refused on the header alone.
        let big = [0x82, 0xFF, 0, 0, 0, 0, 0x40, 0, 0, 0, 9, 9, 9, 9];
        match header(&big, 65_536) {
            Err(FrameError::TooLong { len, max }) => assert_eq!((len, max), (1 << 30, 65_536)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_headers_are_refused() {
        let top_bit = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1];
        let cases: [&[u8]; 4] = [
            &[0xC2, 0x00], // RSV1 without an extension
            &[0x83, 0x00], // opcode 3 is reserved
            &[0x09, 0x00], // a fragmented ping
            &top_bit,
        ];
        for bytes in cases {
            assert!(
                matches!(header(bytes, 100), Err(FrameError::Malformed(_))),
                "{bytes:?}"
            );
        }
        assert!(matches!(
            header(&[0x89, 126, 0, 200], 1000),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(header(&[0x82], 100), Err(FrameError::Io(_))));
    }

    #[test]
    fn payloads_unmask_and_close_frames_carry_their_reason() {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        // RFC 6455 section 5.7: a masked "Hello".
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let mut r = &bytes[..];
        let h = read_header(&mut r, 100).unwrap();
        assert_eq!(h.mask, Some(mask));
        assert_eq!(read_payload(&mut r, &h).unwrap(), b"Hello");
        let close = close_frame(1008, "too long");
        assert_eq!(&close[..4], &[0x88, 10, 0x03, 0xF0]);
        assert_eq!(&close[4..], b"too long");
    }
}
