#!/usr/bin/env python3
"""Generative fuzzing of host-side work: random Rhai programs over the table,
SVG and image built-ins, each run by the real `weavelet` CLI beside a
bystander node, under tight budgets.

Every program must end with the host intact:
- the `weavelet` process exits with 0 (the node finished) or 1 (the node
  failed, with a message naming it), never a signal or another code;
- the run ends within the node's wall-time budget plus a margin;
- the bystander's output is printed;
- a failure names the node and says what stopped it.

Usage: tests/fuzz/rhai_programs.py [SECONDS] [--seed N] [--bin PATH] [--isolation LEVEL]
(defaults: 60 s, a random seed, $CARGO_TARGET_DIR/debug/weavelet, process).
The programs in tests/fuzz/regressions/rhai-*.rhai run first. Programs that
break an invariant are written there as rhai-<seed>-<n>.rhai and listed at the
end; the exit code is 1 if there were any.
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 2
MARGIN_S = 3.0  # worker start, kill and reaping, the CLI's own start

# Mostly one column `k`, so that most programs get past the schema checks to
# the work; a few other shapes keep the error paths exercised.
SQL_SEEDS = [
    "SELECT 1 AS k",
    "SELECT 1 AS k UNION ALL SELECT 1 AS k UNION ALL SELECT 1 AS k",
    "SELECT 1 AS k UNION ALL SELECT 2 AS k UNION ALL SELECT 3 AS k",
    "SELECT 1 AS k, 2 AS v",
    "SELECT 1 AS k, 'a' AS s, 2.5 AS f",
]
EXPRS = ["k > 0", "k = 1", "k < 3", "k + 1", "k * k", "k / 0", "k % 2", "v - k", "true", "null"]
COLUMNS = ["k"] * 6 + ["v", "s", "x"]
BIG = [0, 1, 2, 7, 100, 4096, 100000, 10**9, -1, 2**62]


def ident(rng, pool):
    return rng.choice(pool) if pool else None


def table_expr(rng, tables, depth=0):
    """A Rhai expression producing a table from earlier ones."""
    if not tables or depth > 2 or rng.random() < 0.15:
        return f'sql("{rng.choice(SQL_SEEDS)}", #{{}})'
    t = rng.choice(tables)
    u = rng.choice(tables)
    op = rng.randrange(14)
    if op == 0:
        return f"concat([{', '.join(rng.choice(tables) for _ in range(rng.randint(1, 6)))}])"
    if op == 1:
        return f'{t}.join({u}, "{rng.choice(["k", "k", "v", "zz"])}")'
    if op == 2:
        return f'{t}.filter("{rng.choice(EXPRS)}")'
    if op == 3:
        return f'{t}.with_column("{rng.choice(COLUMNS)}", "{rng.choice(EXPRS)}")'
    if op == 4:
        return f'{t}.group_by("{rng.choice(COLUMNS)}", #{{ n: "count(k)", m: "sum(k)" }})'
    if op == 5:
        return f'{t}.sort("{rng.choice(COLUMNS)}")'
    if op == 6:
        return f"{t}.head({rng.choice(BIG)})"
    if op == 7:
        return f'{t}.select(["{rng.choice(COLUMNS)}"])'
    if op == 8:
        return f'sql("SELECT * FROM a JOIN b ON a.k = b.k", #{{ a: {t}, b: {u} }})'
    if op == 9:
        return f'sql("SELECT * FROM a UNION ALL SELECT * FROM a", #{{ a: {t} }})'
    if op == 10:
        return f"{t}.tail({rng.choice(BIG)})"
    if op == 11:
        return f'{t}.drop(["{rng.choice(COLUMNS)}"])'
    if op == 12:
        return f'{t}.rename(#{{ k: "{rng.choice(COLUMNS)}" }})'
    return f"{t}.slice({rng.choice(BIG)}, {rng.choice(BIG)})"


def svg_expr(rng, svgs):
    if not svgs or rng.random() < 0.2:
        return f"svg({rng.choice([1, 10, 400, 4000, 100000])}, {rng.choice([1, 10, 300, 4000])})"
    s = rng.choice(svgs)
    o = rng.choice(svgs)
    op = rng.randrange(6)
    n = rng.choice(BIG)
    if op == 0:
        return f'{s}.rect(0, 0, {n}, {n}, #{{ fill: "red", opacity: 0.5 }})'
    if op == 1:
        return f"{s}.group({o}, #{{}})"
    if op == 2:
        return f"{s}.place({o}, 0, 0, {rng.choice([0.1, 1, 10, 1000])})"
    if op == 3:
        return f'{s}.text(1, 1, "{"x" * rng.choice([1, 100, 10000])}", #{{}})'
    if op == 4:
        return f'{s}.circle({n}, {n}, {n}, #{{ fill: "blue" }})'
    return f'parse_svg("<svg xmlns=\'http://www.w3.org/2000/svg\' width=\'{n}\' height=\'{n}\'><rect width=\'{n}\' height=\'{n}\'/></svg>")'


def program(rng):
    """One node's body: a few statements building tables and documents, then one result."""
    lines, tables, svgs = [], [], []
    for i in range(rng.randint(2, 10)):
        kind = rng.random()
        if kind < 0.55:
            name = f"t{i}"
            lines.append(f"let {name} = {table_expr(rng, tables)};")
            tables.append(name)
        elif kind < 0.85:
            name = f"s{i}"
            lines.append(f"let {name} = {svg_expr(rng, svgs)};")
            svgs.append(name)
        elif tables and kind < 0.93:
            lines.append(f"for i in 0..{rng.choice([2, 10, 30])} {{ {rng.choice(tables)} = {table_expr(rng, tables)}; }}")
        elif tables:
            # Growth: a table joined with or appended to itself, a few times over.
            t = rng.choice(tables)
            step = rng.choice([f"{t}.join({t}, \"k\")", f"concat([{t}, {t}, {t}, {t}])"])
            lines.append(f"for i in 0..{rng.choice([3, 6, 12])} {{ {t} = {step}; }}")
    ends = []
    if tables:
        ends += [f"{rng.choice(tables)}.height()", f"{rng.choice(tables)}", f'{rng.choice(tables)}.column("k")']
    if svgs:
        ends += [f"{rng.choice(svgs)}.render()", f"{rng.choice(svgs)}", f"{rng.choice(svgs)}.to_text().len()"]
    lines.append(rng.choice(ends or ["0"]))
    body = "\n    ".join(lines)
    return f"fn attack() {{\n    {body}\n}}\n\n/// Runs beside it and must finish.\nfn bystander() {{ 70 }}\n"


def run_one(binary, isolation, source, dir_):
    with open(os.path.join(dir_, "nodes.rhai"), "w") as f:
        f.write(source)
    started = time.monotonic()
    try:
        out = subprocess.run(
            [binary, "run", dir_, "-q", "--no-cache", "-o", "attack", "-o", "bystander", "--isolation", isolation],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S + 60,
        )
    except subprocess.TimeoutExpired:
        return "the run did not end within a minute of the node's budget", None
    took = time.monotonic() - started
    problems = []
    if out.returncode not in (0, 1):
        problems.append(f"exit status {out.returncode} (a signal is negative)")
    if took > TIMEOUT_S + MARGIN_S:
        problems.append(f"the run took {took:.1f}s, past {TIMEOUT_S}s + {MARGIN_S}s")
    if "bystander: 70" not in out.stdout:
        problems.append("the bystander's output was not printed")
    if out.returncode == 1 and "node `attack`" not in out.stderr:
        problems.append("the failure does not name the node")
    return ("; ".join(problems) or None), (out, took)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("seconds", nargs="?", type=float, default=60)
    ap.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    ap.add_argument("--bin", default=None)
    ap.add_argument("--isolation", default="process")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    binary = args.bin or os.path.join(target, "debug", "weavelet")
    rng = random.Random(args.seed)
    dir_ = tempfile.mkdtemp(prefix="weavelet-fuzz-")
    with open(os.path.join(dir_, "weavelet.toml"), "w") as f:
        f.write(f'[[scripts]]\npath = "nodes.rhai"\n[policy]\ntimeout = "{TIMEOUT_S}s"\nmemory = "128MiB"\n')
    found, runs, outcomes = [], 0, {"finished": 0, "failed": 0}
    # Every program an earlier run found runs again first.
    regressions = os.path.join(root, "tests", "fuzz", "regressions")
    for name in sorted(os.listdir(regressions)):
        if name.startswith("rhai-") and name.endswith(".rhai"):
            with open(os.path.join(regressions, name)) as f:
                problem, _ = run_one(binary, args.isolation, f.read(), dir_)
            print(f"replayed {name}: {problem or 'ok'}", flush=True)
            if problem:
                found.append((name, problem))
    deadline = time.monotonic() + args.seconds
    slowest = 0.0
    while time.monotonic() < deadline:
        source = program(rng)
        problem, result = run_one(binary, args.isolation, source, dir_)
        runs += 1
        if result:
            out, took = result
            slowest = max(slowest, took)
            outcomes["finished" if out.returncode == 0 else "failed"] += 1
        if problem:
            path = os.path.join(root, "tests", "fuzz", "regressions", f"rhai-{args.seed}-{runs}.rhai")
            with open(path, "w") as f:
                f.write(f"// {problem}\n{source}")
            found.append((path, problem))
            print(f"FOUND {path}: {problem}", flush=True)
    shutil.rmtree(dir_, ignore_errors=True)
    print(
        f"seed {args.seed}: {runs} programs in {args.seconds:.0f}s ({args.isolation}); "
        f"{outcomes['finished']} finished, {outcomes['failed']} failed cleanly; slowest run {slowest:.2f}s; "
        f"{len(found)} broke an invariant"
    )
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
