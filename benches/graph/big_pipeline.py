"""A Rhai pipeline of N nodes, each reading 1 to 3 of the 40 before it (seeded:
the same pipeline every time), on standard output. Usage: big_pipeline.py N"""
import random
import sys

n = int(sys.argv[1])
random.seed(3)
print("/// @input n int\nfn s0(n) { n }")
for i in range(1, n):
    deps = sorted(set(random.randrange(max(0, i - 40), i) for _ in range(random.randint(1, 3))))
    print(f"fn s{i}({', '.join(f's{d}' for d in deps)}) {{ {' + '.join(f's{d}' for d in deps)} }}")
