;; Case 8: three linear memories, each grown by 48 MiB. A limit per memory
;; would let each through; the node's budget is for all of them together.
(module
  (memory (export "memory") 1)
  (memory $second 0)
  (memory $third 0)
  (; weavelet:node many_memories ;)
  (; weavelet:realloc ;)
  (func (export "weavelet:node/node@0.4.0#run") (param i32 i32 i32 i32) (result i32)
    (drop (memory.grow 0 (i32.const 768)))
    (drop (memory.grow $second (i32.const 768)))
    (drop (memory.grow $third (i32.const 768)))
    ;; Touch the last page of each, so the growth is real.
    (i32.store8 0 (i32.const 50000000) (i32.const 1))
    (i32.store8 $second (i32.const 50000000) (i32.const 1))
    (i32.store8 $third (i32.const 50000000) (i32.const 1))
    i32.const 64))
