//! CPU features: which instruction forms a given x86-64 CPU can run.
//!
//! Every instruction form names the [`Feature`] it needs (its instruction
//! table says so, line by line). [`CpuFeatures`] is a set of features: the
//! host's ([`CpuFeatures::host`]), the x86-64 baseline
//! ([`CpuFeatures::baseline`]), or any set a caller builds for a target CPU.
//! The [`Assembler`](super::Assembler) is made for one such set and refuses
//! (with an error from `finish`, never with wrong code) a form the CPU lacks:
//! on a CPU without LZCNT, for instance, the LZCNT encoding silently runs as
//! BSR.

use core::fmt;

/// A CPU feature an instruction form may need.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Feature {
    /// The x86-64 base instruction set (every x86-64 CPU).
    Base,
    /// SSE (part of the x86-64 baseline).
    Sse,
    /// SSE2 (part of the x86-64 baseline).
    Sse2,
    /// SSE3.
    Sse3,
    /// SSSE3.
    Ssse3,
    /// SSE4.1 (ROUNDSS/ROUNDSD, ...).
    Sse41,
    /// SSE4.2.
    Sse42,
    /// POPCNT.
    Popcnt,
    /// LZCNT (ABM on AMD).
    Lzcnt,
    /// BMI1 (TZCNT, ANDN, ...).
    Bmi1,
    /// BMI2 (SHLX, SARX, ...).
    Bmi2,
    /// AVX (VEX-encoded forms).
    Avx,
    /// AVX2.
    Avx2,
    /// FMA3.
    Fma,
}

impl Feature {
    /// Every feature.
    pub const ALL: [Feature; 14] = [
        Feature::Base,
        Feature::Sse,
        Feature::Sse2,
        Feature::Sse3,
        Feature::Ssse3,
        Feature::Sse41,
        Feature::Sse42,
        Feature::Popcnt,
        Feature::Lzcnt,
        Feature::Bmi1,
        Feature::Bmi2,
        Feature::Avx,
        Feature::Avx2,
        Feature::Fma,
    ];

    const fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The feature this one presupposes: every CPU with SSE2 has SSE, every
    /// one with SSE4.1 has SSSE3, and so on up to AVX2 and FMA.
    const fn presupposes(self) -> Option<Feature> {
        match self {
            Feature::Sse2 => Some(Feature::Sse),
            Feature::Sse3 => Some(Feature::Sse2),
            Feature::Ssse3 => Some(Feature::Sse3),
            Feature::Sse41 => Some(Feature::Ssse3),
            Feature::Sse42 => Some(Feature::Sse41),
            Feature::Avx => Some(Feature::Sse42),
            Feature::Avx2 | Feature::Fma => Some(Feature::Avx),
            Feature::Base
            | Feature::Sse
            | Feature::Popcnt
            | Feature::Lzcnt
            | Feature::Bmi1
            | Feature::Bmi2 => None,
        }
    }

    /// The feature's usual name (as in `/proc/cpuinfo` and `-C target-feature`).
    pub const fn name(self) -> &'static str {
        match self {
            Feature::Base => "x86-64",
            Feature::Sse => "sse",
            Feature::Sse2 => "sse2",
            Feature::Sse3 => "sse3",
            Feature::Ssse3 => "ssse3",
            Feature::Sse41 => "sse4.1",
            Feature::Sse42 => "sse4.2",
            Feature::Popcnt => "popcnt",
            Feature::Lzcnt => "lzcnt",
            Feature::Bmi1 => "bmi1",
            Feature::Bmi2 => "bmi2",
            Feature::Avx => "avx",
            Feature::Avx2 => "avx2",
            Feature::Fma => "fma",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of CPU features.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct CpuFeatures(u32);

impl CpuFeatures {
    /// What every x86-64 CPU has: the base set, SSE and SSE2.
    pub const fn baseline() -> Self {
        CpuFeatures(Feature::Base.bit() | Feature::Sse.bit() | Feature::Sse2.bit())
    }

    /// Only the base instruction set (not even SSE).
    pub const fn base_only() -> Self {
        CpuFeatures(Feature::Base.bit())
    }

    /// Every feature the assembler knows (for tests and cross-compilation to
    /// a modern CPU).
    pub const fn all() -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < Feature::ALL.len() {
            bits |= Feature::ALL[i].bit();
            i += 1;
        }
        CpuFeatures(bits)
    }

    /// The features of the CPU this program runs on (the baseline when it is
    /// not an x86-64 CPU).
    pub fn host() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let mut features = Self::baseline();
            macro_rules! detect {
                ($($name:tt => $feature:ident),*) => {$(
                    if std::is_x86_feature_detected!($name) {
                        features = features.with(Feature::$feature);
                    }
                )*};
            }
            detect!(
                "sse3" => Sse3, "ssse3" => Ssse3, "sse4.1" => Sse41, "sse4.2" => Sse42,
                "popcnt" => Popcnt, "lzcnt" => Lzcnt, "bmi1" => Bmi1, "bmi2" => Bmi2,
                "avx" => Avx, "avx2" => Avx2, "fma" => Fma
            );
            features
        }
        #[cfg(not(target_arch = "x86_64"))]
        Self::baseline()
    }

    /// This set plus `feature` and what it presupposes (with SSE4.1 come
    /// SSSE3, SSE3, SSE2 and SSE).
    pub const fn with(self, feature: Feature) -> Self {
        let mut bits = self.0 | feature.bit();
        let mut next = feature.presupposes();
        while let Some(presupposed) = next {
            bits |= presupposed.bit();
            next = presupposed.presupposes();
        }
        CpuFeatures(bits)
    }

    /// This set without `feature` and every feature that presupposes it
    /// (without SSE2 go SSE3 to AVX2). The base set cannot be removed.
    pub const fn without(self, feature: Feature) -> Self {
        if let Feature::Base = feature {
            return self;
        }
        let mut bits = self.0 & !feature.bit();
        // Features presuppose only earlier ones in `ALL`, so one pass in
        // order removes every feature whose presupposition is gone.
        let mut i = 0;
        while i < Feature::ALL.len() {
            let candidate = Feature::ALL[i];
            if let Some(presupposed) = candidate.presupposes()
                && bits & presupposed.bit() == 0
            {
                bits &= !candidate.bit();
            }
            i += 1;
        }
        CpuFeatures(bits)
    }

    /// Whether the CPU has `feature`.
    pub const fn has(self, feature: Feature) -> bool {
        self.0 & feature.bit() != 0
    }

    /// The features in the set.
    pub fn iter(self) -> impl Iterator<Item = Feature> {
        Feature::ALL.into_iter().filter(move |f| self.has(*f))
    }
}

impl fmt::Debug for CpuFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Feature::name))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_has_sse2_but_not_lzcnt() {
        let cpu = CpuFeatures::baseline();
        assert!(cpu.has(Feature::Base) && cpu.has(Feature::Sse2));
        assert!(!cpu.has(Feature::Lzcnt));
        assert!(cpu.with(Feature::Lzcnt).has(Feature::Lzcnt));
        assert!(!CpuFeatures::all().without(Feature::Bmi1).has(Feature::Bmi1));
        assert!(CpuFeatures::all().without(Feature::Base).has(Feature::Base));
    }

    #[test]
    fn features_bring_what_they_presuppose_and_take_what_depends_on_them() {
        let sse41 = CpuFeatures::base_only().with(Feature::Sse41);
        for f in [
            Feature::Sse,
            Feature::Sse2,
            Feature::Sse3,
            Feature::Ssse3,
            Feature::Sse41,
        ] {
            assert!(sse41.has(f), "{f}");
        }
        assert!(!sse41.has(Feature::Sse42) && !sse41.has(Feature::Popcnt));
        let no_sse2 = CpuFeatures::all().without(Feature::Sse2);
        assert!(
            no_sse2.has(Feature::Sse) && no_sse2.has(Feature::Lzcnt) && no_sse2.has(Feature::Bmi2)
        );
        for f in [
            Feature::Sse2,
            Feature::Sse3,
            Feature::Sse41,
            Feature::Avx,
            Feature::Avx2,
            Feature::Fma,
        ] {
            assert!(!no_sse2.has(f), "{f}");
        }
        // Every feature's presupposition comes earlier in ALL (what
        // `without` relies on).
        for (i, f) in Feature::ALL.iter().enumerate() {
            if let Some(p) = f.presupposes() {
                assert!(
                    Feature::ALL[..i].contains(&p),
                    "{f} presupposes the later {p}"
                );
            }
        }
    }

    #[test]
    fn host_includes_baseline() {
        let host = CpuFeatures::host();
        for feature in CpuFeatures::baseline().iter() {
            assert!(host.has(feature));
        }
    }
}
