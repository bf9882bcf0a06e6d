//! Randomized round trip: arbitrary post-allocation instructions (see
//! `common/generate.rs`) are emitted, decoded by iced-x86 and compared with
//! the hand-written expectation in `common/mod.rs`.
//!
//! `cargo test` runs a fixed seed for a few thousand instructions. Set
//! `DUET_ROUNDTRIP_ITERS=<n>` to run `n` instructions instead, and
//! `DUET_ROUNDTRIP_SEED=<u64>` to start from another seed (a failure prints
//! the seed and iteration that reproduce it). The cargo-fuzz target in
//! `crates/asm/fuzz` checks the same property with coverage guidance.

mod common;

use arbitrary::Unstructured;

/// xorshift64*: a small, seedable source of bytes for `Unstructured`.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_instructions_decode_to_what_they_mean() {
    let iterations = env_u64("DUET_ROUNDTRIP_ITERS", 4000);
    let seed = env_u64("DUET_ROUNDTRIP_SEED", 0x5EED_F00D_D0E7);
    let targets = common::targets();
    let mut rng = XorShift(seed | 1);
    let mut bytes = [0u8; 256];
    let mut variants = std::collections::BTreeSet::new();
    for iteration in 0..iterations {
        rng.fill(&mut bytes);
        let mut u = Unstructured::new(&bytes);
        let inst = common::generate::inst(&mut u, &targets).expect("256 bytes are enough");
        let padding = usize::from(bytes[255] % 160);
        let result = std::panic::catch_unwind(|| common::check_inst(&inst, padding));
        match result {
            Ok(name) => {
                variants.insert(name);
            }
            Err(panic) => {
                eprintln!("failed at seed {seed:#x}, iteration {iteration}, padding {padding}");
                std::panic::resume_unwind(panic);
            }
        }
    }
    eprintln!(
        "{iterations} random instructions, {} variants",
        variants.len()
    );
}

/// `MInst::required_features` is exact: with those features the instruction
/// encodes, and without any one of them (besides the base set, and with it
/// everything that presupposes it) the assembler refuses it.
#[test]
fn required_features_are_exactly_what_the_encoder_checks() {
    use cranelift_asm::x64::{AsmError, CpuFeatures, Feature};
    let targets = common::targets();
    let mut rng = XorShift(0x0FEA_70E5);
    let mut bytes = [0u8; 256];
    let mut needing_more_than_base = 0;
    for _ in 0..3000 {
        rng.fill(&mut bytes);
        let inst = common::generate::inst(&mut Unstructured::new(&bytes), &targets).unwrap();
        let required = inst.required_features();
        let emit_with = |features: CpuFeatures| {
            let (mut asm, _) = common::assembler(features);
            inst.emit(&mut asm);
            asm.error().cloned()
        };
        assert_eq!(
            emit_with(required),
            None,
            "{inst:?} needs more than {required:?}"
        );
        for feature in required.iter().filter(|f| *f != Feature::Base) {
            needing_more_than_base += 1;
            let reduced = required.without(feature);
            let error = emit_with(reduced);
            assert!(
                matches!(error, Some(AsmError::UnavailableFeature { feature: f, .. }) if !reduced.has(f)),
                "{inst:?} declares {feature} but encodes without it: {error:?}"
            );
        }
    }
    assert!(
        needing_more_than_base > 1000,
        "the generator rarely made SSE or BMI forms"
    );
}
