//! The registers the compiler hands out, and which are free.
//!
//! These are winch's own choices; what a call boundary demands of them
//! comes from `duet_environ::abi` and is asserted at compile time below.
//!
//! Only caller-saved registers are allocated, so a function saves nothing
//! for them and a call clobbers nothing the caller has not spilled. Every
//! XMM register is caller-saved, so `xmm0`-`xmm14` are all handed out (for
//! `f32` and `f64` values). Fixed roles:
//!
//! * `r14` holds the VMContext for the whole function (callee-saved, so it
//!   survives calls; the prologue saves the caller's);
//! * `rbp` is the frame pointer, `rsp` the stack pointer;
//! * `r11` and `xmm15` are scratch registers, used within one operation
//!   and never holding a value-stack entry (caller-saved, and no argument
//!   register, so they stay free while a call's arguments are placed);
//! * with fuel metering, `r15` holds the fuel counter's value and `r13`
//!   its address, and with epoch interruption `r12` holds the engine's
//!   epoch counter's address, for the whole function (`metering.rs`).
//!   They are callee-saved, so only calls into the runtime or other
//!   functions can change what they mirror, and the prologue saves the
//!   caller's only when the tunables ask for them (with both off the
//!   code is what it was before metering);
//! * in a tiered module's code, `rbx` holds the activation's tier-up
//!   budget (`tierup.rs`); otherwise it holds nothing, and a metered
//!   prologue saves it only as padding, to keep the frame's slots aligned
//!   as in unmetered code (`codegen.rs`).

use cranelift_asm::x64::{Gpr, Xmm};
use duet_environ::abi::{self, CALLEE_SAVED_GPRS, CALLER_SAVED_GPRS, contains_gpr};

/// The register that holds the VMContext in compiled code.
pub(crate) const VMCTX: Gpr = Gpr::R14;

/// The fuel counter's value (`VMStoreContext::FUEL_CONSUMED`), when the
/// function meters fuel; the counter in memory equals it after every
/// charge, and it is reloaded after every call.
pub(crate) const FUEL: Gpr = Gpr::R15;

/// The fuel counter's address, when the function meters fuel.
pub(crate) const FUEL_ADDRESS: Gpr = Gpr::R13;

/// The engine's epoch counter's address (`VMContext::EPOCH_COUNTER`),
/// when the function checks epochs.
pub(crate) const EPOCH_COUNTER: Gpr = Gpr::R12;

/// The activation's tier-up budget, in a tiered module's baseline code
/// (`tierup.rs`): callee-saved, so calls leave it alone.
pub(crate) const TIER_UP_BUDGET: Gpr = Gpr::RBX;

/// The GPR scratch register.
pub(crate) const SCRATCH: Gpr = Gpr::R11;

/// The XMM scratch register.
pub(crate) const XMM_SCRATCH: Xmm = Xmm::XMM15;

/// The allocatable XMM registers (every one but the scratch), a bit per
/// hardware encoding.
const ALLOCATABLE_XMMS: u16 = 0x7fff;

/// The allocatable GPRs, in the order they are handed out: every
/// caller-saved one but the scratch register, in `abi`'s order.
const ALLOCATABLE: [Gpr; CALLER_SAVED_GPRS.len() - 1] = {
    let mut allocatable = [SCRATCH; CALLER_SAVED_GPRS.len() - 1];
    let (mut i, mut n) = (0, 0);
    while i < CALLER_SAVED_GPRS.len() {
        if CALLER_SAVED_GPRS[i].enc() != SCRATCH.enc() {
            allocatable[n] = CALLER_SAVED_GPRS[i];
            n += 1;
        }
        i += 1;
    }
    assert!(
        n == allocatable.len(),
        "the scratch register is caller-saved"
    );
    allocatable
};

// The roles above, checked against the calling convention (the
// allocatable GPRs are caller-saved by construction).
const _: () = {
    assert!(contains_gpr(&CALLEE_SAVED_GPRS, VMCTX));
    assert!(contains_gpr(&CALLEE_SAVED_GPRS, FUEL));
    assert!(contains_gpr(&CALLEE_SAVED_GPRS, FUEL_ADDRESS));
    assert!(contains_gpr(&CALLEE_SAVED_GPRS, EPOCH_COUNTER));
    let fixed = [VMCTX, FUEL, FUEL_ADDRESS, EPOCH_COUNTER];
    let mut i = 0;
    while i < fixed.len() {
        let mut j = i + 1;
        while j < fixed.len() {
            assert!(fixed[i].enc() != fixed[j].enc());
            j += 1;
        }
        i += 1;
    }
    assert!(!contains_gpr(&abi::SYSTEM_V_ARGUMENT_GPRS, SCRATCH));
    // Every XMM register is caller-saved; the scratch one is no argument
    // register and not allocatable.
    assert!(abi::CALLER_SAVED_XMMS.len() == Xmm::ALL.len());
    assert!(XMM_SCRATCH.enc() as usize >= abi::ARGUMENT_XMMS.len());
    assert!(ALLOCATABLE_XMMS & (1 << XMM_SCRATCH.enc()) == 0);
};

/// The free allocatable GPRs and XMM registers (a bit per hardware
/// encoding, one mask per class).
#[derive(Clone, Debug)]
pub(crate) struct RegSet {
    free_gprs: u16,
    free_xmms: u16,
}

impl RegSet {
    /// Every allocatable register free.
    pub(crate) fn new() -> Self {
        RegSet {
            free_gprs: ALLOCATABLE.iter().fold(0, |bits, r| bits | 1 << r.enc()),
            free_xmms: ALLOCATABLE_XMMS,
        }
    }

    /// A free GPR, now taken.
    pub(crate) fn take_gpr(&mut self) -> Option<Gpr> {
        let reg = ALLOCATABLE.into_iter().find(|r| self.is_free(*r))?;
        self.free_gprs &= !(1 << reg.enc());
        Some(reg)
    }

    /// Takes `reg` if it is free.
    pub(crate) fn take_specific(&mut self, reg: Gpr) -> bool {
        let free = self.is_free(reg);
        self.free_gprs &= !(1 << reg.enc());
        free
    }

    /// Whether `reg` is allocatable and free.
    pub(crate) fn is_free(&self, reg: Gpr) -> bool {
        self.free_gprs & (1 << reg.enc()) != 0
    }

    /// Returns `reg` to the free set.
    pub(crate) fn free(&mut self, reg: Gpr) {
        debug_assert!(ALLOCATABLE.contains(&reg), "{reg} is not allocatable");
        debug_assert!(!self.is_free(reg), "{reg} freed twice");
        self.free_gprs |= 1 << reg.enc();
    }

    /// A free XMM register (the lowest-numbered), now taken.
    pub(crate) fn take_xmm(&mut self) -> Option<Xmm> {
        let enc = self.free_xmms.trailing_zeros();
        let reg = Xmm::from_enc(u8::try_from(enc).ok()?)?;
        self.free_xmms &= !(1 << enc);
        Some(reg)
    }

    /// Takes XMM register `reg` if it is free.
    pub(crate) fn take_specific_xmm(&mut self, reg: Xmm) -> bool {
        let free = self.is_free_xmm(reg);
        self.free_xmms &= !(1 << reg.enc());
        free
    }

    /// Whether XMM register `reg` is allocatable and free.
    pub(crate) fn is_free_xmm(&self, reg: Xmm) -> bool {
        self.free_xmms & (1 << reg.enc()) != 0
    }

    /// Returns XMM register `reg` to the free set.
    pub(crate) fn free_xmm(&mut self, reg: Xmm) {
        debug_assert!(
            ALLOCATABLE_XMMS & (1 << reg.enc()) != 0,
            "{reg} is not allocatable"
        );
        debug_assert!(!self.is_free_xmm(reg), "{reg} freed twice");
        self.free_xmms |= 1 << reg.enc();
    }

    /// The allocatable GPRs now taken (by value-stack entries, between
    /// operations).
    pub(crate) fn taken_gprs(&self) -> impl Iterator<Item = Gpr> + '_ {
        ALLOCATABLE.into_iter().filter(|r| !self.is_free(*r))
    }

    /// The allocatable XMM registers now taken.
    pub(crate) fn taken_xmms(&self) -> impl Iterator<Item = Xmm> + '_ {
        Xmm::ALL
            .into_iter()
            .filter(|r| ALLOCATABLE_XMMS & (1 << r.enc()) != 0 && !self.is_free_xmm(*r))
    }

    /// Whether every allocatable register is free.
    pub(crate) fn all_free(&self) -> bool {
        *self == RegSet::new()
    }
}

impl PartialEq for RegSet {
    fn eq(&self, other: &Self) -> bool {
        self.free_gprs == other.free_gprs && self.free_xmms == other.free_xmms
    }
}
