;; br_table to blocks carrying a value, with duplicate targets.
(module
  (func $classify (param i32) (result i32)
    block (result i32)
      block (result i32)
        block (result i32)
          i32.const 100
          local.get 0
          br_table 0 1 0 2
        end
        i32.const 1
        i32.add
        return
      end
      i32.const 2
      i32.add
    end)
  (func $no_targets (param i32) (result i32)
    block
      local.get 0
      br_table 0
    end
    i32.const 7))
