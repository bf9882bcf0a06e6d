//! The x86-64 ISA (work in progress).
