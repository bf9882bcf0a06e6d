;; A block with a result, left early by br_if with a value, and by br.
(module
  (func $clamp (export "clamp") (param i32) (result i32)
    block $out (result i32)
      i32.const 255
      local.get 0
      i32.const 255
      i32.gt_u
      br_if $out
      drop
      local.get 0
      br $out
    end))
