;; Case 2: `cabi_realloc`, which the host calls to pass a node its name before
;; the node runs, never returns.
(module
  (memory (export "memory") 1)
  (; weavelet:node realloc_loop ;)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (loop $again (br $again))
    i32.const 0)
  (func (export "weavelet:node/node@0.4.0#run") (param i32 i32 i32 i32) (result i32)
    i32.const 64))
