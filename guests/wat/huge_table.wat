;; Case 9: a table grown by ten million elements.
(module
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (; weavelet:node huge_table ;)
  (; weavelet:realloc ;)
  (func (export "weavelet:node/node@0.4.0#run") (param i32 i32 i32 i32) (result i32)
    (if (i32.lt_s (table.grow $t (ref.null func) (i32.const 10000000)) (i32.const 0))
      (then unreachable))
    i32.const 64))
