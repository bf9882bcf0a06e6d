//! A compact serde encoding for [`FinishedCode`](super::FinishedCode)'s
//! tables (feature `serde`): each table is one byte string of fixed-width
//! little-endian records, not a sequence of structs.
//!
//! A module's tables run to a million records (a source-location range per
//! operator); decoding them field by field through serde's sequence
//! visitor costs more than all the rest of loading a precompiled module.
//! As a byte string they are copied out in one pass over `chunks_exact`.
//! The layout of each record is below, one line per type; a string whose
//! length is not a multiple of the record size, or a record with a value
//! its type does not have (trap code 0, an unknown relocation kind or
//! unwind instruction), is a decoding error, never a panic.
//!
//! | record | bytes |
//! |---|---|
//! | `Relocation` | offset u32, kind u8, namespace u32, index u32, addend i64 (21) |
//! | `TrapRecord` | offset u32, code u8 (5) |
//! | `CallSite` | return offset u32 (4) |
//! | `SrcLocRange` | start u32, end u32, loc u32 (12) |
//! | `UnwindRecord` | offset u32, instruction u8, register u16, value u32 (11) |

use super::{CallSite, Relocation, SrcLocRange, TrapRecord};
use crate::metadata::{ExternalName, RelocKind, SourceLoc, TrapCode};
use crate::unwind::{UnwindInst, UnwindRecord, UnwindReg};
use core::fmt;
use core::marker::PhantomData;
use serde::de::Visitor;
use serde::{Deserializer, Serializer};

/// A table entry with a fixed-width encoding.
pub(super) trait Record: Sized {
    /// The encoding's length in bytes.
    const SIZE: usize;
    /// Appends the encoding (exactly `SIZE` bytes).
    fn write(&self, out: &mut Vec<u8>);
    /// Decodes `SIZE` bytes; `None` for a value the type does not have.
    fn read(bytes: &[u8]) -> Option<Self>;
}

/// Little-endian `u32` at `at`.
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

impl Record for Relocation {
    const SIZE: usize = 21;
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.push(match self.kind {
            RelocKind::Abs64 => 0,
            RelocKind::PcRel32 => 1,
            RelocKind::CallPcRel32 => 2,
        });
        out.extend_from_slice(&self.target.namespace.to_le_bytes());
        out.extend_from_slice(&self.target.index.to_le_bytes());
        out.extend_from_slice(&self.addend.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        let kind = match bytes[4] {
            0 => RelocKind::Abs64,
            1 => RelocKind::PcRel32,
            2 => RelocKind::CallPcRel32,
            _ => return None,
        };
        Some(Relocation {
            offset: u32_at(bytes, 0),
            kind,
            target: ExternalName::new(u32_at(bytes, 5), u32_at(bytes, 9)),
            addend: i64::from_le_bytes(bytes[13..21].try_into().expect("8 bytes")),
        })
    }
}

impl Record for TrapRecord {
    const SIZE: usize = 5;
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.push(self.code.as_u8());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        Some(TrapRecord {
            offset: u32_at(bytes, 0),
            code: TrapCode::from_u8(bytes[4])?,
        })
    }
}

impl Record for CallSite {
    const SIZE: usize = 4;
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.return_offset.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        Some(CallSite {
            return_offset: u32_at(bytes, 0),
        })
    }
}

impl Record for SrcLocRange {
    const SIZE: usize = 12;
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.start.to_le_bytes());
        out.extend_from_slice(&self.end.to_le_bytes());
        out.extend_from_slice(&self.loc.0.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        Some(SrcLocRange {
            start: u32_at(bytes, 0),
            end: u32_at(bytes, 4),
            loc: SourceLoc(u32_at(bytes, 8)),
        })
    }
}

impl Record for UnwindRecord {
    const SIZE: usize = 11;
    fn write(&self, out: &mut Vec<u8>) {
        let (tag, reg, value) = match self.inst {
            UnwindInst::DefineCfa { reg, offset } => (0, reg.0, offset),
            UnwindInst::CfaRegister { reg } => (1, reg.0, 0),
            UnwindInst::CfaOffset { offset } => (2, 0, offset),
            UnwindInst::SavedAt { reg, below_cfa } => (3, reg.0, below_cfa),
            UnwindInst::Restored { reg } => (4, reg.0, 0),
            UnwindInst::RememberState => (5, 0, 0),
            UnwindInst::RestoreState => (6, 0, 0),
        };
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.push(tag);
        out.extend_from_slice(&reg.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        let reg = UnwindReg(u16::from_le_bytes([bytes[5], bytes[6]]));
        let value = u32_at(bytes, 7);
        let inst = match bytes[4] {
            0 => UnwindInst::DefineCfa { reg, offset: value },
            1 => UnwindInst::CfaRegister { reg },
            2 => UnwindInst::CfaOffset { offset: value },
            3 => UnwindInst::SavedAt {
                reg,
                below_cfa: value,
            },
            4 => UnwindInst::Restored { reg },
            5 => UnwindInst::RememberState,
            6 => UnwindInst::RestoreState,
            _ => return None,
        };
        Some(UnwindRecord {
            offset: u32_at(bytes, 0),
            inst,
        })
    }
}

/// `#[serde(with = "records")]`: the table as one byte string.
pub(super) fn serialize<R: Record, S: Serializer>(
    table: &[R],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut bytes = Vec::with_capacity(table.len() * R::SIZE);
    for record in table {
        record.write(&mut bytes);
    }
    serializer.serialize_bytes(&bytes)
}

/// `#[serde(with = "records")]`: the table back from its byte string.
pub(super) fn deserialize<'de, R: Record, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<R>, D::Error> {
    deserializer.deserialize_bytes(TableVisitor(PhantomData))
}

struct TableVisitor<R>(PhantomData<R>);

impl<R: Record> Visitor<'_> for TableVisitor<R> {
    type Value = Vec<R>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a byte string of {}-byte records", R::SIZE)
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Vec<R>, E> {
        if !bytes.len().is_multiple_of(R::SIZE) {
            return Err(E::invalid_length(bytes.len(), &self));
        }
        // Presized and pushed: a `collect` into `Result` cannot know the
        // length and grows the vector as it goes.
        let mut table = Vec::with_capacity(bytes.len() / R::SIZE);
        for chunk in bytes.chunks_exact(R::SIZE) {
            table.push(R::read(chunk).ok_or_else(|| E::custom("a record with an unknown value"))?);
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record type survives its encoding, and a bad value is refused.
    #[test]
    fn records_round_trip() {
        fn round_trip<R: Record + PartialEq + fmt::Debug>(values: &[R]) {
            for value in values {
                let mut bytes = Vec::new();
                value.write(&mut bytes);
                assert_eq!(bytes.len(), R::SIZE);
                assert_eq!(R::read(&bytes).as_ref(), Some(value));
            }
        }
        round_trip(&[Relocation {
            offset: 7,
            kind: RelocKind::CallPcRel32,
            target: ExternalName::new(1, 0x0102_0304),
            addend: -4,
        }]);
        round_trip(&[TrapRecord {
            offset: 0xdead,
            code: TrapCode::from_u8(9).unwrap(),
        }]);
        round_trip(&[CallSite { return_offset: 12 }]);
        round_trip(&[SrcLocRange {
            start: 1,
            end: 2,
            loc: SourceLoc(3),
        }]);
        let reg = UnwindReg(6);
        round_trip(
            &[
                UnwindInst::DefineCfa { reg, offset: 16 },
                UnwindInst::CfaRegister { reg },
                UnwindInst::CfaOffset { offset: 8 },
                UnwindInst::SavedAt { reg, below_cfa: 24 },
                UnwindInst::Restored { reg },
                UnwindInst::RememberState,
                UnwindInst::RestoreState,
            ]
            .map(|inst| UnwindRecord { offset: 3, inst }),
        );
        assert_eq!(TrapRecord::read(&[1, 0, 0, 0, 0]), None);
        assert_eq!(UnwindRecord::read(&[0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(Relocation::read(&[3; 21]), None);
    }
}
