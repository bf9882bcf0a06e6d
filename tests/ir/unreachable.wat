;; Code after br, return and unreachable is validated but not translated;
;; constructs inside it open no blocks.
(module
  (func $after_branches (param i32) (result i32)
    block (result i32)
      local.get 0
      br 0
      i32.const 1
      i32.add
      block
        loop
          br 0
        end
      end
    end
    local.get 0
    if
      unreachable
    end
    return
    i32.const 9))
