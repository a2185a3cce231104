//! BinaryPack: the MessagePack dialect that PeerJS uses on `binary` data connections.
//!
//! A stock PeerJS peer (`peerjs` 1.5.5 with `peerjs-js-binarypack` 2.1.0) packs every `send(v)` with
//! this format, so a Rust peer must produce and accept exactly these bytes. It differs from MessagePack
//! in two ways that matter: strings use `0xb0`–`0xbf` / `0xd8` / `0xd9`, and binary ("raw") uses
//! `0xa0`–`0xaf` / `0xda` / `0xdb`. All multi-byte numbers are big-endian.
//!
//! This module is pure bytes in, [`Value`] out (and back). It knows nothing about chunking or the
//! `__peerData` control messages: that is `super::framing`.
//!
//! # Where we follow the JavaScript implementation, and where we do not
//!
//! Packing follows it byte for byte, including its integer order (see [`pack`]). Unpacking accepts
//! everything it accepts, with these deliberate differences, all of which turn a silently wrong value
//! into a [`BinaryPackError`]:
//! - Reading past the end is [`BinaryPackError::Truncated`]. (The JavaScript reader yields `0` for a
//!   missing type byte and throws only for some reads.)
//! - A string that is not valid UTF-8 is [`BinaryPackError::InvalidUtf8`]. (The JavaScript reader
//!   has its own lenient decoder that turns such bytes into arbitrary code points.)
//! - Bytes left after the first value are [`BinaryPackError::TrailingBytes`]. (The JavaScript reader
//!   ignores them; no stock sender produces them.) [`unpack_prefix`] is the lenient form.
//! - Containers nested deeper than [`MAX_DEPTH`] are [`BinaryPackError::TooDeep`], so hostile input
//!   cannot exhaust the stack.
//! - `0xca` (float32) and `0xcb` (float64) are read as IEEE 754, so zero, subnormals, infinities and
//!   NaN come out right. (The JavaScript reader computes them arithmetically and gets those wrong; it
//!   never packs float32 and never packs zero as a float, so stock traffic is unaffected.)
//!
//! Like the JavaScript reader, the type bytes it has no meaning for (`0xc4`–`0xc9`, `0xd4`–`0xd7`)
//! unpack as [`Value::Undefined`] and consume only the type byte itself.
//!
//! Declared lengths never drive an allocation by themselves: a length or count larger than the bytes
//! that remain is rejected before anything is reserved, so a 5-byte input cannot ask for 4 GiB.

use thiserror::Error;

/// How deep arrays and maps may nest before [`unpack`] gives up. The top-level container is depth 1.
/// PeerJS traffic is shallow; the limit only stops hostile input from exhausting the stack.
pub const MAX_DEPTH: usize = 64;

/// One BinaryPack value.
///
/// Integers come in two variants because BinaryPack carries both signed and unsigned 64-bit
/// integers. [`unpack`] returns the canonical form: [`Value::Int`] for every integer that fits in an
/// `i64`, and [`Value::UInt`] only above `i64::MAX`. [`pack`] accepts either form for any value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, packed as `0xc0`.
    Nil,
    /// JavaScript's `undefined`. It packs as `0xc0` (so it comes back as [`Value::Nil`]); it is
    /// what `0xc1`, `0xc4`–`0xc9` and `0xd4`–`0xd7` unpack to.
    Undefined,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    /// An `ArrayBuffer` or typed array on the JavaScript side.
    Bin(Vec<u8>),
    Array(Vec<Value>),
    /// Key/value pairs in wire order. Keys may be any value and may repeat; JavaScript turns keys into
    /// strings and keeps the last of repeated keys, which is what [`to_json`] does too.
    Map(Vec<(Value, Value)>),
}

/// Why bytes are not a BinaryPack value. `offset` is where in the input the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BinaryPackError {
    #[error("BinaryPack input ends early: {needed} more bytes needed at offset {offset}, {available} left")]
    Truncated { offset: usize, needed: usize, available: usize },
    #[error("BinaryPack string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 { offset: usize },
    #[error("BinaryPack containers nest deeper than {limit} levels at offset {offset}")]
    TooDeep { offset: usize, limit: usize },
    #[error("{remaining} bytes follow the BinaryPack value that ends at offset {offset}")]
    TrailingBytes { offset: usize, remaining: usize },
}

/// Packs `value` the way `peerjs-js-binarypack` packs the equivalent JavaScript value.
///
/// Integers take the first encoding that fits, in the JavaScript packer's order: fixint
/// (−32..=127), u8, i8, u16, i16, u32, i32, i64, u64. So a non-negative integer uses the smallest
/// unsigned form up to `u32::MAX`, then `0xd3` (i64) up to `i64::MAX`, and `0xcf` (u64) only above it;
/// a negative one uses i8, i16, i32 or i64. Every [`Value::Float`] is `0xcb` float64, even when it is
/// integral (a JavaScript sender packs integral numbers as integers; see `from_json`).
///
/// # Panics
/// If a string, binary, array or map is longer than `u32::MAX`, which BinaryPack cannot express.
/// Such a value cannot exist on wasm32 and is never built from remote input.
pub fn pack(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    pack_into(value, &mut out);
    out
}

/// [`pack`] appending to an existing buffer.
pub fn pack_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Nil | Value::Undefined => out.push(0xc0),
        Value::Bool(false) => out.push(0xc2),
        Value::Bool(true) => out.push(0xc3),
        Value::Int(n) => pack_int(i128::from(*n), out),
        Value::UInt(n) => pack_int(i128::from(*n), out),
        Value::Float(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Str(s) => {
            pack_len(s.len(), [0xb0, 0xd8, 0xd9], out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bin(b) => {
            pack_len(b.len(), [0xa0, 0xda, 0xdb], out);
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            pack_len(items.len(), [0x90, 0xdc, 0xdd], out);
            for item in items {
                pack_into(item, out);
            }
        }
        Value::Map(pairs) => {
            pack_len(pairs.len(), [0x80, 0xde, 0xdf], out);
            for (key, value) in pairs {
                pack_into(key, out);
                pack_into(value, out);
            }
        }
    }
}

/// Writes a length header: the fix form (`codes[0] + len`) up to 15, then a u16 form, then a u32 form.
fn pack_len(len: usize, codes: [u8; 3], out: &mut Vec<u8>) {
    if len <= 0x0f {
        // `len` is at most 15 here, so the cast is exact.
        out.push(codes[0] + len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(codes[1]);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        let len = u32::try_from(len).expect("BinaryPack lengths are limited to u32::MAX");
        out.push(codes[2]);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Integers in the JavaScript packer's order. `i128` holds both `i64` and `u64` so one ladder serves both.
fn pack_int(n: i128, out: &mut Vec<u8>) {
    // The casts below are exact: each branch has just checked the range.
    if (-0x20..=0x7f).contains(&n) {
        out.push(n as i8 as u8);
    } else if (0..=0xff).contains(&n) {
        out.push(0xcc);
        out.push(n as u8);
    } else if (-0x80..=0x7f).contains(&n) {
        out.push(0xd0);
        out.push(n as i8 as u8);
    } else if (0..=0xffff).contains(&n) {
        out.push(0xcd);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if (-0x8000..=0x7fff).contains(&n) {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if (0..=0xffff_ffff).contains(&n) {
        out.push(0xce);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else if (-0x8000_0000..=0x7fff_ffff).contains(&n) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else if let Ok(n) = i64::try_from(n) {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        // Only u64 values above i64::MAX get here: the input was an i64 or a u64.
        out.push(0xcf);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
}

/// Unpacks exactly one value that fills `bytes` entirely. See the module docs for how this differs
/// from the JavaScript reader; in short, every malformed input is an error, never a panic.
pub fn unpack(bytes: &[u8]) -> Result<Value, BinaryPackError> {
    let (value, used) = unpack_prefix(bytes)?;
    if used != bytes.len() {
        return Err(BinaryPackError::TrailingBytes { offset: used, remaining: bytes.len() - used });
    }
    Ok(value)
}

/// Unpacks the first value in `bytes` and says how many bytes it took; what follows is ignored, as the
/// JavaScript reader ignores it.
pub fn unpack_prefix(bytes: &[u8]) -> Result<(Value, usize), BinaryPackError> {
    let mut reader = Reader { bytes, pos: 0 };
    let value = reader.value(0)?;
    Ok((value, reader.pos))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Takes `n` bytes, or fails without moving if fewer remain. Checking before slicing is what
    /// keeps a hostile declared length from ever reaching an allocation.
    fn take(&mut self, n: usize) -> Result<&[u8], BinaryPackError> {
        if n > self.remaining() {
            return Err(BinaryPackError::Truncated { offset: self.pos, needed: n, available: self.remaining() });
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.bytes[start..self.pos])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BinaryPackError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, BinaryPackError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<usize, BinaryPackError> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn u32(&mut self) -> Result<usize, BinaryPackError> {
        let n = u32::from_be_bytes(self.array()?);
        // On a 16-bit target a length this large could not be satisfied anyway; saturate and let
        // `take` report the truncation.
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn value(&mut self, depth: usize) -> Result<Value, BinaryPackError> {
        let type_at = self.pos;
        let ty = self.u8()?;
        let value = match ty {
            0x00..=0x7f => Value::Int(i64::from(ty)),
            0xe0..=0xff => Value::Int(i64::from(ty as i8)),
            0xa0..=0xaf => self.bin(usize::from(ty & 0x0f))?,
            0xb0..=0xbf => self.str(usize::from(ty & 0x0f))?,
            0x90..=0x9f => self.seq(usize::from(ty & 0x0f), depth, type_at)?,
            0x80..=0x8f => self.map(usize::from(ty & 0x0f), depth, type_at)?,
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xca => Value::Float(f64::from(f32::from_be_bytes(self.array()?))),
            0xcb => Value::Float(f64::from_be_bytes(self.array()?)),
            0xcc => Value::Int(i64::from(self.u8()?)),
            0xcd => Value::Int(i64::from(u16::from_be_bytes(self.array()?))),
            0xce => Value::Int(i64::from(u32::from_be_bytes(self.array()?))),
            0xcf => {
                let n = u64::from_be_bytes(self.array()?);
                i64::try_from(n).map_or(Value::UInt(n), Value::Int)
            }
            0xd0 => Value::Int(i64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => Value::Int(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => Value::Int(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => Value::Int(i64::from_be_bytes(self.array()?)),
            0xd8 => {
                let len = self.u16()?;
                self.str(len)?
            }
            0xd9 => {
                let len = self.u32()?;
                self.str(len)?
            }
            0xda => {
                let len = self.u16()?;
                self.bin(len)?
            }
            0xdb => {
                let len = self.u32()?;
                self.bin(len)?
            }
            0xdc => {
                let len = self.u16()?;
                self.seq(len, depth, type_at)?
            }
            0xdd => {
                let len = self.u32()?;
                self.seq(len, depth, type_at)?
            }
            0xde => {
                let len = self.u16()?;
                self.map(len, depth, type_at)?
            }
            0xdf => {
                let len = self.u32()?;
                self.map(len, depth, type_at)?
            }
            // 0xc1 is `undefined` on purpose; the others have no meaning and the JavaScript reader
            // also returns `undefined` for them, consuming just the type byte.
            0xc1 | 0xc4..=0xc9 | 0xd4..=0xd7 => Value::Undefined,
        };
        Ok(value)
    }

    fn bin(&mut self, len: usize) -> Result<Value, BinaryPackError> {
        Ok(Value::Bin(self.take(len)?.to_vec()))
    }

    fn str(&mut self, len: usize) -> Result<Value, BinaryPackError> {
        let offset = self.pos;
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Value::Str(s.to_owned())),
            Err(_) => Err(BinaryPackError::InvalidUtf8 { offset }),
        }
    }

    fn enter(&self, depth: usize, offset: usize) -> Result<usize, BinaryPackError> {
        let depth = depth + 1;
        if depth > MAX_DEPTH {
            return Err(BinaryPackError::TooDeep { offset, limit: MAX_DEPTH });
        }
        Ok(depth)
    }

    fn seq(&mut self, count: usize, depth: usize, offset: usize) -> Result<Value, BinaryPackError> {
        let depth = self.enter(depth, offset)?;
        // Every element takes at least one byte, so the remaining input bounds the reservation.
        let mut items = Vec::with_capacity(count.min(self.remaining()));
        for _ in 0..count {
            items.push(self.value(depth)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, count: usize, depth: usize, offset: usize) -> Result<Value, BinaryPackError> {
        let depth = self.enter(depth, offset)?;
        // Every pair takes at least two bytes.
        let mut pairs = Vec::with_capacity(count.min(self.remaining() / 2));
        for _ in 0..count {
            let key = self.value(depth)?;
            let value = self.value(depth)?;
            pairs.push((key, value));
        }
        Ok(Value::Map(pairs))
    }
}

/// Converts JSON into the value a JavaScript sender would pack for it.
///
/// Numbers that serde_json holds as integers become [`Value::Int`] (or [`Value::UInt`] above
/// `i64::MAX`); every other number becomes [`Value::Float`], even an integral one such as `1.0`, so
/// that it comes back as the same JSON. (JavaScript cannot tell `1.0` from `1` and would send an
/// integer; a stock receiver reads both as the number 1.) Objects become maps with string keys in the
/// object's iteration order, which is sorted with this crate's serde_json features.
pub fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                // Without `arbitrary_precision` every serde_json number is an i64, u64 or f64.
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(object) => {
            Value::Map(object.iter().map(|(k, v)| (Value::Str(k.clone()), from_json(v))).collect())
        }
    }
}

/// Converts a value into the JSON closest to what a stock receiver would hand its application.
///
/// [`Value::Bin`] becomes an array of byte numbers; [`Value::Nil`] and [`Value::Undefined`] become
/// `null`; non-finite floats (which JSON cannot express) become `null`. A map key that is not a string
/// becomes its JSON text (`1`, `null`, `[1,2]`), as JavaScript would stringify it; of repeated keys the
/// last wins.
pub fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Nil | Value::Undefined => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(n) => serde_json::Value::from(*n),
        Value::UInt(n) => serde_json::Value::from(*n),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Str(s) => serde_json::Value::String(s.clone()),
        Value::Bin(bytes) => serde_json::Value::Array(bytes.iter().map(|b| serde_json::Value::from(*b)).collect()),
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Map(pairs) => {
            let mut object = serde_json::Map::new();
            for (key, value) in pairs {
                let key = match key {
                    Value::Str(s) => s.clone(),
                    other => to_json(other).to_string(),
                };
                object.insert(key, to_json(value));
            }
            serde_json::Value::Object(object)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_int(n: i128, expected: &[u8]) {
        let value = match i64::try_from(n) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(u64::try_from(n).unwrap()),
        };
        assert_eq!(pack(&value), expected, "packing {n}");
        let back = unpack(expected).unwrap();
        let back = match back {
            Value::Int(i) => i128::from(i),
            Value::UInt(u) => i128::from(u),
            other => panic!("{other:?}"),
        };
        assert_eq!(back, n);
    }

    #[test]
    fn integers_follow_the_javascript_ladder() {
        check_int(0, &[0x00]);
        check_int(127, &[0x7f]);
        check_int(-1, &[0xff]);
        check_int(-32, &[0xe0]);
        check_int(128, &[0xcc, 0x80]);
        check_int(255, &[0xcc, 0xff]);
        check_int(-33, &[0xd0, 0xdf]);
        check_int(-128, &[0xd0, 0x80]);
        check_int(256, &[0xcd, 0x01, 0x00]);
        check_int(65535, &[0xcd, 0xff, 0xff]);
        check_int(-129, &[0xd1, 0xff, 0x7f]);
        check_int(-32768, &[0xd1, 0x80, 0x00]);
        check_int(65536, &[0xce, 0x00, 0x01, 0x00, 0x00]);
        check_int(0xffff_ffff, &[0xce, 0xff, 0xff, 0xff, 0xff]);
        check_int(-32769, &[0xd2, 0xff, 0xff, 0x7f, 0xff]);
        check_int(-0x8000_0000, &[0xd2, 0x80, 0x00, 0x00, 0x00]);
        // Above u32 the JavaScript packer reaches i64 before u64.
        check_int(0x1_0000_0000, &[0xd3, 0, 0, 0, 1, 0, 0, 0, 0]);
        check_int(-0x8000_0001, &[0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
        check_int(i128::from(i64::MAX), &[0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        check_int(i128::from(u64::MAX), &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(pack(&Value::UInt(5)), [0x05]);
    }

    #[test]
    fn length_headers_switch_at_15_and_65535() {
        assert_eq!(pack(&Value::Str("a".repeat(15)))[0], 0xbf);
        assert_eq!(pack(&Value::Str("a".repeat(16)))[..3], [0xd8, 0x00, 0x10]);
        assert_eq!(pack(&Value::Str("a".repeat(65536)))[..5], [0xd9, 0x00, 0x01, 0x00, 0x00]);
        assert_eq!(pack(&Value::Bin(vec![0; 15]))[0], 0xaf);
        assert_eq!(pack(&Value::Bin(vec![0; 16000]))[..3], [0xda, 0x3e, 0x80]);
        assert_eq!(pack(&Value::Bin(vec![0; 65536]))[..5], [0xdb, 0x00, 0x01, 0x00, 0x00]);
        assert_eq!(pack(&Value::Array(vec![Value::Nil; 16]))[..3], [0xdc, 0x00, 0x10]);
        let map = Value::Map((0..16).map(|i| (Value::Int(i), Value::Nil)).collect());
        assert_eq!(pack(&map)[..3], [0xde, 0x00, 0x10]);
        // The string length is the UTF-8 byte length, not the character count.
        assert_eq!(pack(&Value::Str("é".into())), [0xb2, 0xc3, 0xa9]);
    }

    #[test]
    fn scalars() {
        assert_eq!(pack(&Value::Nil), [0xc0]);
        assert_eq!(pack(&Value::Undefined), [0xc0]);
        assert_eq!(pack(&Value::Bool(false)), [0xc2]);
        assert_eq!(pack(&Value::Bool(true)), [0xc3]);
        assert_eq!(pack(&Value::Float(1.5)), [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(unpack(&[0xca, 0x3f, 0xc0, 0, 0]), Ok(Value::Float(1.5)));
        assert_eq!(unpack(&[0xca, 0, 0, 0, 0]), Ok(Value::Float(0.0)));
        assert_eq!(unpack(&[0xc1]), Ok(Value::Undefined));
    }

    #[test]
    fn undefined_type_bytes_take_one_byte() {
        for ty in [0xc4, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7] {
            assert_eq!(unpack(&[ty]), Ok(Value::Undefined));
            assert_eq!(unpack(&[0x92, ty, 0x01]), Ok(Value::Array(vec![Value::Undefined, Value::Int(1)])));
        }
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(matches!(unpack(&[]), Err(BinaryPackError::Truncated { offset: 0, needed: 1, .. })));
        assert!(matches!(unpack(&[0xcd, 0x01]), Err(BinaryPackError::Truncated { .. })));
        assert!(matches!(unpack(&[0xb3, b'a']), Err(BinaryPackError::Truncated { .. })));
        assert_eq!(unpack(&[0xb1, 0xff]), Err(BinaryPackError::InvalidUtf8 { offset: 1 }));
        assert_eq!(unpack(&[0x01, 0x02]), Err(BinaryPackError::TrailingBytes { offset: 1, remaining: 1 }));
        assert_eq!(unpack_prefix(&[0x01, 0x02]), Ok((Value::Int(1), 1)));
        // A declared count of 4 billion elements in 5 bytes is refused before any allocation.
        assert!(matches!(unpack(&[0xdd, 0xff, 0xff, 0xff, 0xff]), Err(BinaryPackError::Truncated { .. })));
        assert!(matches!(unpack(&[0xdf, 0xff, 0xff, 0xff, 0xff]), Err(BinaryPackError::Truncated { .. })));
        assert!(matches!(unpack(&[0xdb, 0xff, 0xff, 0xff, 0xff]), Err(BinaryPackError::Truncated { .. })));
    }

    #[test]
    fn nesting_is_bounded() {
        let mut ok = vec![0x91; MAX_DEPTH - 1];
        ok.push(0x90);
        assert!(unpack(&ok).is_ok());
        let mut deep = vec![0x91; MAX_DEPTH];
        deep.push(0x90);
        assert!(matches!(unpack(&deep), Err(BinaryPackError::TooDeep { .. })));
        let hostile = vec![0x91; 1_000_000];
        assert!(matches!(unpack(&hostile), Err(BinaryPackError::TooDeep { .. })));
    }

    #[test]
    fn json_conversions() {
        let json = serde_json::json!({"a": [1, -2, 1.5, null, true, "x"], "b": 18446744073709551615u64});
        let value = from_json(&json);
        assert_eq!(to_json(&value), json);
        assert_eq!(to_json(&Value::Bin(vec![1, 255])), serde_json::json!([1, 255]));
        assert_eq!(to_json(&Value::Float(f64::INFINITY)), serde_json::Value::Null);
        assert_eq!(to_json(&Value::Undefined), serde_json::Value::Null);
        let map = Value::Map(vec![
            (Value::Int(1), Value::Int(2)),
            (Value::Nil, Value::Int(3)),
            (Value::Str("k".into()), Value::Int(4)),
            (Value::Str("k".into()), Value::Int(5)),
        ]);
        assert_eq!(to_json(&map), serde_json::json!({"1": 2, "null": 3, "k": 5}));
    }
}
