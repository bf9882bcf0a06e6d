;; v128 values through every part of the baseline tier's frame: locals
;; between 8-byte slots, block and loop parameters and results, branches
;; carrying them, spills under register pressure, calls with arguments in
;; registers and on the stack, several results, globals, select and
;; call_indirect. Only constants and bitwise operators compute, so each
;; expected value is plain to check by hand.

(module
  (global $g (mut v128) (v128.const i64x2 1 2))
  (memory 1)
  (table 1 funcref)
  (elem (i32.const 0) $ten)

  ;; A v128 local between an i32 and an i64 one.
  (func (export "locals") (param i32 v128 i64) (result v128)
    (local i32 v128 f64 v128)
    (local.set 4 (v128.xor (local.get 1) (v128.const i64x2 0xff 0xff00)))
    (local.set 6 (local.get 4))
    (v128.or (local.get 6) (v128.const i64x2 0x10000 0)))

  ;; Block and loop parameters and results, and a branch carrying a v128.
  (func (export "blocks") (param v128 i32) (result v128 i32)
    (local.get 0)
    (local.get 1)
    (block (param v128 i32) (result v128 i32)
      (loop (param v128 i32) (result v128 i32)
        ;; v ^= 1; n -= 1; continue while n != 0
        (local.set 1)
        (v128.xor (v128.const i64x2 1 1))
        (local.tee 0)
        (i32.sub (local.get 1) (i32.const 1))
        (local.tee 1)
        (local.get 1)
        (br_if 0)
        (drop)
        (local.get 1)))
    ;; result: v xored n times with 1, and 0
  )

  ;; Sixteen live v128 values: more than the allocatable XMM registers.
  (func (export "pressure") (param v128) (result v128)
    (local.get 0) (v128.xor (local.get 0) (v128.const i64x2 1 0))
    (v128.xor (local.get 0) (v128.const i64x2 2 0))
    (v128.xor (local.get 0) (v128.const i64x2 4 0))
    (v128.xor (local.get 0) (v128.const i64x2 8 0))
    (v128.xor (local.get 0) (v128.const i64x2 16 0))
    (v128.xor (local.get 0) (v128.const i64x2 32 0))
    (v128.xor (local.get 0) (v128.const i64x2 64 0))
    (v128.xor (local.get 0) (v128.const i64x2 128 0))
    (v128.xor (local.get 0) (v128.const i64x2 256 0))
    (v128.xor (local.get 0) (v128.const i64x2 512 0))
    (v128.xor (local.get 0) (v128.const i64x2 1024 0))
    (v128.xor (local.get 0) (v128.const i64x2 2048 0))
    (v128.xor (local.get 0) (v128.const i64x2 4096 0))
    (v128.xor (local.get 0) (v128.const i64x2 8192 0))
    (v128.xor (local.get 0) (v128.const i64x2 16384 0))
    (v128.xor (local.get 0) (v128.const i64x2 32768 0))
    ;; xor the 17 values together: 16 x's cancel out pairwise, one x
    ;; remains, and every bit 0..15 once
    v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor
    v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor v128.xor)

  ;; Ten v128 arguments (eight in xmm0-7, two on the stack) between
  ;; integers, and three results (one in xmm0, two in the return area).
  (func $spread (param v128 i32 v128 v128 i64 v128 v128 v128 v128 v128 v128 v128)
                (result v128 i32 v128)
    (v128.xor (local.get 0) (local.get 11))
    (i32.add (local.get 1) (i32.wrap_i64 (local.get 4)))
    (v128.or (local.get 9) (local.get 10)))
  (func (export "calls") (param v128) (result v128 i32 v128)
    (call $spread
      (local.get 0) (i32.const 3)
      (v128.const i64x2 2 2) (v128.const i64x2 3 3) (i64.const 4)
      (v128.const i64x2 5 5) (v128.const i64x2 6 6) (v128.const i64x2 7 7)
      (v128.const i64x2 8 8) (v128.const i64x2 9 9) (v128.const i64x2 0x100 0)
      (v128.const i64x2 0xf0 0xf)))

  ;; The call's arguments in spilled slots and locals.
  (func (export "calls_spilled") (param v128) (result v128)
    (local v128)
    (local.set 1 (v128.const i64x2 0xf0 0xf))
    (call $spread
      (local.get 0) (i32.const 3)
      (local.get 1) (local.get 0) (i64.const 4)
      (local.get 1) (local.get 0) (local.get 1)
      (local.get 0) (v128.const i64x2 0x100 0) (local.get 0)
      (local.get 1))
    (drop) (drop))

  (func (export "global") (param v128) (result v128)
    (global.set $g (v128.xor (global.get $g) (local.get 0)))
    (global.get $g))

  (func (export "memory") (param i32 v128) (result v128)
    (v128.store offset=3 (local.get 0) (local.get 1))
    (v128.load offset=1 (i32.add (local.get 0) (i32.const 2))))

  (func (export "select") (param v128 v128 i32) (result v128)
    (select (local.get 0) (local.get 1) (local.get 2)))

  (func $ten (param v128) (result v128)
    (v128.xor (local.get 0) (v128.const i64x2 10 10)))
  (func (export "indirect") (param v128) (result v128)
    (call_indirect (param v128) (result v128) (local.get 0) (i32.const 0)))
)

(assert_return (invoke "locals" (i32.const 7) (v128.const i64x2 0x1234 -1) (i64.const 9))
  (v128.const i64x2 0x112cb 0xffffffffffff00ff))
(assert_return (invoke "blocks" (v128.const i64x2 6 7) (i32.const 3))
  (v128.const i64x2 7 6) (i32.const 0))
(assert_return (invoke "blocks" (v128.const i64x2 6 7) (i32.const 4))
  (v128.const i64x2 6 7) (i32.const 0))
(assert_return (invoke "pressure" (v128.const i64x2 0x50000 -1))
  (v128.const i64x2 0x5ffff -1))
(assert_return (invoke "calls" (v128.const i64x2 0xff00 1))
  (v128.const i64x2 0xfff0 0xe) (i32.const 7) (v128.const i64x2 0x109 9))
(assert_return (invoke "calls_spilled" (v128.const i64x2 0x3 0x4))
  (v128.const i64x2 0xf3 0xb))
(assert_return (invoke "global" (v128.const i64x2 3 3)) (v128.const i64x2 2 1))
(assert_return (invoke "global" (v128.const i64x2 3 3)) (v128.const i64x2 1 2))
(assert_return (invoke "memory" (i32.const 5) (v128.const i32x4 1 2 3 4))
  (v128.const i32x4 1 2 3 4))
(assert_return (invoke "memory" (i32.const 65517) (v128.const i32x4 1 2 3 4))
  (v128.const i32x4 1 2 3 4))
(assert_trap (invoke "memory" (i32.const 65518) (v128.const i32x4 1 2 3 4))
  "out of bounds memory access")
(assert_return (invoke "select" (v128.const i64x2 1 2) (v128.const i64x2 3 4) (i32.const 1))
  (v128.const i64x2 1 2))
(assert_return (invoke "select" (v128.const i64x2 1 2) (v128.const i64x2 3 4) (i32.const 0))
  (v128.const i64x2 3 4))
(assert_return (invoke "indirect" (v128.const i64x2 1 2)) (v128.const i64x2 11 8))
