//! Protobuf wire format: a bounds-checked reader over one message's bytes and an append-only
//! writer. Knows nothing about Kubernetes or JSON.

use crate::error::ProtoError;

/// Wire type of varints (int32, int64, bool).
pub(crate) const VARINT: u8 = 0;
/// Wire type of 8-byte values (double, fixed64).
pub(crate) const FIXED64: u8 = 1;
/// Wire type of length-delimited values (string, bytes, messages, packed repeated).
pub(crate) const LEN: u8 = 2;
/// Wire type opening a group (proto2, skipped).
const START_GROUP: u8 = 3;
/// Wire type closing a group.
const END_GROUP: u8 = 4;
/// Wire type of 4-byte values (float, fixed32).
pub(crate) const FIXED32: u8 = 5;

/// Largest field number protobuf allows.
const MAX_FIELD_NUMBER: u64 = (1 << 29) - 1;
/// Deepest group nesting skipped before giving up.
const MAX_GROUP_DEPTH: usize = 64;

/// A field's value as it sits on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    /// Bytes and the offset of their first byte in the whole body.
    Len(&'a [u8], usize),
}

impl WireValue<'_> {
    pub(crate) fn wire_type(&self) -> u8 {
        match self {
            WireValue::Varint(_) => VARINT,
            WireValue::Fixed64(_) => FIXED64,
            WireValue::Fixed32(_) => FIXED32,
            WireValue::Len(..) => LEN,
        }
    }
}

/// One field read from a message: number, value, and the offset of its tag.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WireField<'a> {
    pub(crate) number: u32,
    pub(crate) value: WireValue<'a>,
    pub(crate) offset: usize,
}

/// Reads the fields of one message in order; groups are skipped.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the whole body, for error messages.
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn fixed64(&mut self) -> Result<u64, ProtoError> {
        let b = self.take(8, "fixed64")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn fixed32(&mut self) -> Result<u32, ProtoError> {
        let b = self.take(4, "fixed32")?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    pub(crate) fn varint(&mut self) -> Result<u64, ProtoError> {
        let start = self.offset();
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(ProtoError::Truncated {
                    what: "varint",
                    offset: start,
                });
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(ProtoError::VarintTooLong { offset: start })
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ProtoError> {
        let start = self.offset();
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        let Some(end) = end else {
            return Err(ProtoError::Truncated {
                what,
                offset: start,
            });
        };
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn tag(&mut self) -> Result<(u64, u8, usize), ProtoError> {
        let offset = self.offset();
        let key = self.varint()?;
        let number = key >> 3;
        // Truncation is fine: the mask keeps three bits.
        let wire_type = (key & 7) as u8;
        if number == 0 || number > MAX_FIELD_NUMBER {
            return Err(ProtoError::BadFieldNumber {
                field: number,
                offset,
            });
        }
        Ok((number, wire_type, offset))
    }

    /// The next field, or `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<WireField<'a>>, ProtoError> {
        loop {
            if self.pos >= self.buf.len() {
                return Ok(None);
            }
            let (number, wire_type, offset) = self.tag()?;
            let value = match wire_type {
                VARINT => WireValue::Varint(self.varint()?),
                FIXED64 => WireValue::Fixed64(self.fixed64()?),
                FIXED32 => WireValue::Fixed32(self.fixed32()?),
                LEN => {
                    let len_offset = self.offset();
                    let len = self.varint()?;
                    let remaining = self.buf.len() - self.pos;
                    if len > remaining as u64 {
                        return Err(ProtoError::LengthOutOfBounds {
                            len_bytes: len,
                            remaining_bytes: remaining,
                            offset: len_offset,
                        });
                    }
                    let start = self.offset();
                    // In bounds: len <= remaining, which is a usize.
                    let bytes = self.take(len as usize, "length-delimited field")?;
                    WireValue::Len(bytes, start)
                }
                START_GROUP => {
                    self.skip_group(number, offset)?;
                    continue;
                }
                _ => return Err(ProtoError::BadWireType { wire_type, offset }),
            };
            // Field numbers are at most 2^29 - 1, checked in tag().
            return Ok(Some(WireField {
                number: number as u32,
                value,
                offset,
            }));
        }
    }

    /// Skips a group whose start tag (field `number`) was just read, nested groups included.
    fn skip_group(&mut self, number: u64, offset: usize) -> Result<(), ProtoError> {
        let mut open = vec![number];
        while let Some(&innermost) = open.last() {
            if self.pos >= self.buf.len() {
                return Err(ProtoError::Truncated {
                    what: "group",
                    offset,
                });
            }
            let (n, wire_type, tag_offset) = self.tag()?;
            match wire_type {
                VARINT => {
                    self.varint()?;
                }
                FIXED64 => {
                    self.take(8, "fixed64")?;
                }
                FIXED32 => {
                    self.take(4, "fixed32")?;
                }
                LEN => {
                    let len_offset = self.offset();
                    let len = self.varint()?;
                    let remaining = self.buf.len() - self.pos;
                    if len > remaining as u64 {
                        return Err(ProtoError::LengthOutOfBounds {
                            len_bytes: len,
                            remaining_bytes: remaining,
                            offset: len_offset,
                        });
                    }
                    self.take(len as usize, "length-delimited field")?;
                }
                START_GROUP => {
                    if open.len() >= MAX_GROUP_DEPTH {
                        return Err(ProtoError::TooDeep {
                            max_depth: MAX_GROUP_DEPTH,
                        });
                    }
                    open.push(n);
                }
                END_GROUP if n == innermost => {
                    open.pop();
                }
                _ => {
                    return Err(ProtoError::BadWireType {
                        wire_type,
                        offset: tag_offset,
                    })
                }
            }
        }
        Ok(())
    }
}

/// Appends protobuf fields to a buffer.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            // Truncation intended: the low seven bits plus the continuation bit.
            self.buf.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    pub(crate) fn tag(&mut self, number: u32, wire_type: u8) {
        self.varint((u64::from(number) << 3) | u64::from(wire_type));
    }

    pub(crate) fn varint_field(&mut self, number: u32, value: u64) {
        self.tag(number, VARINT);
        self.varint(value);
    }

    pub(crate) fn bytes_field(&mut self, number: u32, bytes: &[u8]) {
        self.tag(number, LEN);
        self.varint(bytes.len() as u64);
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn fixed64_field(&mut self, number: u32, value: u64) {
        self.tag(number, FIXED64);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn fixed32_field(&mut self, number: u32, value: u32) {
        self.tag(number, FIXED32);
        self.buf.extend_from_slice(&value.to_le_bytes());
    }
}
