//! `v128` values as the command line writes them, lane by lane.
//!
//! A `v128` is 16 bytes; [`duet::Val::V128`] holds them as a little-endian
//! `u128`, so byte `i` is bits `8 * i ..= 8 * i + 7` and lane `i` of a
//! shape with `w`-bit lanes is bits `w * i ..= w * i + w - 1`: lane 0 is
//! always the lowest. The six [`LaneShape`]s of the text format
//! (`i8x16` ... `f64x2`) only say how to cut those bits into lanes; the
//! value is the same whichever shape reads it.
//!
//! `duet run` reads a `v128` argument as `0x` and up to 32 hex digits (the
//! `u128`, so `0x1` has lane 0 = 1 in every shape) or as `SHAPE:LANES`,
//! with every lane given, separated by commas (`i32x4:1,2,3,-1`,
//! `f32x4:1.5,-0,nan,inf`), and prints a `v128` result as `0x` and 32 hex
//! digits. `duet wast` compares `v128` results lane by lane in the shape
//! of the expected `v128.const` ([`crate::wast`]) and names the lanes in
//! that shape when they differ ([`LaneShape::describe`]).

/// How a `v128` is cut into lanes.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum LaneShape {
    /// 16 lanes of 8-bit integers.
    I8x16,
    /// 8 lanes of 16-bit integers.
    I16x8,
    /// 4 lanes of 32-bit integers.
    I32x4,
    /// 2 lanes of 64-bit integers.
    I64x2,
    /// 4 lanes of `f32`.
    F32x4,
    /// 2 lanes of `f64`.
    F64x2,
}

impl LaneShape {
    /// Every shape.
    pub const ALL: [LaneShape; 6] = [
        LaneShape::I8x16,
        LaneShape::I16x8,
        LaneShape::I32x4,
        LaneShape::I64x2,
        LaneShape::F32x4,
        LaneShape::F64x2,
    ];

    /// The shape's name in the text format (`i8x16`, ..., `f64x2`).
    pub const fn name(self) -> &'static str {
        match self {
            LaneShape::I8x16 => "i8x16",
            LaneShape::I16x8 => "i16x8",
            LaneShape::I32x4 => "i32x4",
            LaneShape::I64x2 => "i64x2",
            LaneShape::F32x4 => "f32x4",
            LaneShape::F64x2 => "f64x2",
        }
    }

    /// The shape called `name` ([`LaneShape::name`]).
    pub fn from_name(name: &str) -> Option<LaneShape> {
        LaneShape::ALL
            .into_iter()
            .find(|shape| shape.name() == name)
    }

    /// How many bits a lane has.
    pub const fn lane_bits(self) -> u32 {
        match self {
            LaneShape::I8x16 => 8,
            LaneShape::I16x8 => 16,
            LaneShape::I32x4 | LaneShape::F32x4 => 32,
            LaneShape::I64x2 | LaneShape::F64x2 => 64,
        }
    }

    /// How many lanes there are (128 / [`lane_bits`](Self::lane_bits)).
    pub const fn lanes(self) -> usize {
        (128 / self.lane_bits()) as usize
    }

    /// The bits of lane `index` of `value`, in the low bits.
    pub fn lane(self, value: u128, index: usize) -> u64 {
        assert!(index < self.lanes(), "lane {index} of {}", self.name());
        let bits = self.lane_bits();
        let mask = u64::MAX >> (64 - bits);
        (value >> (bits as usize * index)) as u64 & mask
    }

    /// The `v128` whose lanes are `lanes` (their low
    /// [`lane_bits`](Self::lane_bits) bits), lane 0 first.
    pub fn from_lanes(self, lanes: &[u64]) -> u128 {
        assert_eq!(lanes.len(), self.lanes(), "{} lanes", self.name());
        let bits = self.lane_bits();
        let mask = u64::MAX >> (64 - bits);
        lanes.iter().enumerate().fold(0, |value, (index, &lane)| {
            value | u128::from(lane & mask) << (bits as usize * index)
        })
    }

    /// `value` in the text format's notation for this shape: the shape's
    /// name, then each lane, integers signed and floats as numbers with
    /// their bits in hex (`f32x4 1 (0x3f800000) ...`), so two NaNs that
    /// differ only in their payload read differently.
    pub fn describe(self, value: u128) -> String {
        let mut out = self.name().to_string();
        for index in 0..self.lanes() {
            let lane = self.lane(value, index);
            out.push(' ');
            out.push_str(&match self {
                LaneShape::I8x16 => (lane as u8 as i8).to_string(),
                LaneShape::I16x8 => (lane as u16 as i16).to_string(),
                LaneShape::I32x4 => (lane as u32 as i32).to_string(),
                LaneShape::I64x2 => (lane as i64).to_string(),
                LaneShape::F32x4 => describe_f32(lane as u32),
                LaneShape::F64x2 => describe_f64(lane),
            });
        }
        out
    }
}

/// The `f32` with bits `bits` as the spec-script runner shows floats: the
/// number, then its bits in hex (`-0 (0x80000000)`, `NaN (0x7fc00001)`).
pub fn describe_f32(bits: u32) -> String {
    format!("{} (0x{bits:08x})", f32::from_bits(bits))
}

/// [`describe_f32`] for `f64`.
pub fn describe_f64(bits: u64) -> String {
    format!("{} (0x{bits:016x})", f64::from_bits(bits))
}

/// A `v128` as `duet run` reads it (see the module docs): `0x` and 1 to 32
/// hex digits, or `SHAPE:LANE,LANE,...` with every lane of the shape,
/// each a float as Rust reads it or an integer as `integer(text, bits)`
/// reads one of `bits` bits (`duet run` passes its reader of scalar
/// arguments, so a lane takes what an argument of its width takes).
pub fn parse_v128(text: &str, integer: impl Fn(&str, u32) -> Option<u64>) -> Option<u128> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        if hex.is_empty() || hex.len() > 32 || hex.starts_with(['+', '-']) {
            return None;
        }
        return u128::from_str_radix(hex, 16).ok();
    }
    let (shape, lanes) = text.split_once(':')?;
    let shape = LaneShape::from_name(shape)?;
    let lanes = lanes
        .split(',')
        .map(|lane| match shape {
            LaneShape::F32x4 => Some(u64::from(lane.parse::<f32>().ok()?.to_bits())),
            LaneShape::F64x2 => Some(lane.parse::<f64>().ok()?.to_bits()),
            _ => integer(lane, shape.lane_bits()),
        })
        .collect::<Option<Vec<u64>>>()?;
    (lanes.len() == shape.lanes()).then(|| shape.from_lanes(&lanes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decimal-only integer reader for the tests (the command's own
    /// takes hex and checks ranges too).
    fn decimal(text: &str, _bits: u32) -> Option<u64> {
        text.parse::<i64>().ok().map(|v| v as u64)
    }

    #[test]
    fn lanes_are_cut_from_the_lowest_bits_up() {
        // Bytes 0x00, 0x01, ..., 0x0f: byte i is lane i of i8x16.
        let value = u128::from_le_bytes(core::array::from_fn(|i| i as u8));
        for shape in LaneShape::ALL {
            let bytes = (shape.lane_bits() / 8) as usize;
            for index in 0..shape.lanes() {
                let mut expected = [0u8; 8];
                for (b, byte) in expected.iter_mut().take(bytes).enumerate() {
                    *byte = (index * bytes + b) as u8;
                }
                assert_eq!(shape.lane(value, index), u64::from_le_bytes(expected));
            }
            let lanes: Vec<u64> = (0..shape.lanes()).map(|i| shape.lane(value, i)).collect();
            assert_eq!(shape.from_lanes(&lanes), value, "{}", shape.name());
            assert_eq!(LaneShape::from_name(shape.name()), Some(shape));
        }
        // Bits above a lane's width are dropped, not carried into the next.
        assert_eq!(LaneShape::I8x16.from_lanes(&[0x1ff; 16]), u128::MAX);
    }

    #[test]
    fn describe_reads_lanes_signed_and_floats_with_their_bits() {
        let value = LaneShape::I32x4.from_lanes(&[1, 2, 0xffff_ffff, 0x8000_0000]);
        assert_eq!(LaneShape::I32x4.describe(value), "i32x4 1 2 -1 -2147483648");
        assert_eq!(
            LaneShape::I64x2.describe(value),
            "i64x2 8589934593 -9223372032559808513"
        );
        let floats = LaneShape::F32x4.from_lanes(&[0x3f80_0000, 0x8000_0000, 0x7fc0_0001, 0]);
        assert_eq!(
            LaneShape::F32x4.describe(floats),
            "f32x4 1 (0x3f800000) -0 (0x80000000) NaN (0x7fc00001) 0 (0x00000000)"
        );
        assert_eq!(
            LaneShape::I8x16.describe(u128::MAX),
            format!("i8x16{}", " -1".repeat(16))
        );
    }

    #[test]
    fn arguments_are_hex_or_every_lane_of_a_shape() {
        assert_eq!(parse_v128("0x1", decimal), Some(1));
        assert_eq!(
            parse_v128(&format!("0x{}", "f".repeat(32)), decimal),
            Some(u128::MAX)
        );
        assert_eq!(parse_v128(&format!("0x1{}", "0".repeat(32)), decimal), None);
        for bad in [
            "0x",
            "0x-1",
            "0x+1",
            "1",
            "i32x4:1,2,3",
            "i32x4:1,2,3,4,5",
            "i32x3:1,2,3",
        ] {
            assert_eq!(parse_v128(bad, decimal), None, "{bad}");
        }
        assert_eq!(
            parse_v128("i32x4:1,2,3,-1", decimal),
            Some(0xffff_ffff_0000_0003_0000_0002_0000_0001)
        );
        assert_eq!(
            parse_v128("i16x8:-1,0,0,0,0,0,0,1", decimal),
            Some(0x0001_0000_0000_0000_0000_0000_0000_ffff)
        );
        assert_eq!(
            parse_v128("f64x2:-0,1", decimal),
            Some(0x3ff0_0000_0000_0000_8000_0000_0000_0000)
        );
        assert_eq!(
            parse_v128("f32x4:1.5,inf,-inf,0", decimal),
            Some(0x0000_0000_ff80_0000_7f80_0000_3fc0_0000)
        );
        assert_eq!(parse_v128("f32x4:1,2,x,4", decimal), None);
    }
}
