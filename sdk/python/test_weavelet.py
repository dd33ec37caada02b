"""Tests of the Python SDK on the build machine's CPython (no wasm involved).

The host's resources are not there: the bindings are componentize-py's stubs
(`componentize-py bindings`), and the tests use only what runs without a host.
Run from the repository root (componentize-py on PATH, or in ~/.cache/weavelet/venv as .ci/toolchains installs it):

    python3 -m unittest discover -s sdk/python -p 'test_*.py'
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Optional

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV = os.environ.get("WEAVELET_PY_VENV", os.path.expanduser("~/.cache/weavelet/venv"))
_cpy = shutil.which("componentize-py") or os.path.join(VENV, "bin", "componentize-py")
_stubs = tempfile.mkdtemp(prefix="weavelet-py-stubs-")
subprocess.run(
    [_cpy, "-d", str(ROOT / "wit"), "-w", "module", "bindings", _stubs],
    check=True,
    stdout=subprocess.DEVNULL,
)
sys.path[:0] = [_stubs, str(ROOT / "sdk" / "python"), str(ROOT / "guests" / "python")]
sys.dont_write_bytecode = True

from componentize_py_types import Err  # noqa: E402
from wit_world.imports import host  # noqa: E402
from wit_world.imports import types as t  # noqa: E402

LOG = []
host.log = lambda level, message: LOG.append((level, message))

import nodes as app  # noqa: E402  (guests/python/nodes.py)
import weavelet  # noqa: E402
from weavelet import InvalidInput, Table, node  # noqa: E402


@node(name="test_types", columns={"t": "a: int, b: text"}, output_columns="a: int", clock=True)
def _types(
    a: int,
    b: float,
    c: list[float],
    d: Optional[str],
    e: "bytes | None" = None,
    f=7,
    t: Optional[Table] = None,
) -> list[int]:
    """Doc line."""
    if a == 99:
        raise InvalidInput("b", "no")
    if a == 98:
        raise Err("table says no")
    return [a, int(b), len(c), f]


def call(name, **inputs):
    try:
        return app.Node().run(name, list(inputs.items()))
    except Err as e:
        return e.value


class Sdk(unittest.TestCase):
    def test_decls(self):
        decls = {d.name: d for d in app.Node().nodes()}
        self.assertEqual(decls["inc_py"].inputs, [t.InputDecl("x", t.ValueType.INT, False, [])])
        self.assertEqual(decls["inc_py"].output, t.ValueType.INT)
        self.assertEqual(decls["region_shares"].output, t.ValueType.SVG)
        d = decls["test_types"]
        self.assertEqual(d.doc, "Doc line.")
        self.assertEqual(
            [(i.name, i.ty, i.optional) for i in d.inputs],
            [
                ("a", t.ValueType.INT, False),
                ("b", t.ValueType.FLOAT, False),
                ("c", t.ValueType.FLOAT_LIST, False),
                ("d", t.ValueType.TEXT, True),
                ("e", t.ValueType.BYTES, True),
                ("f", t.ValueType.ANY, True),
                ("t", t.ValueType.TABLE, True),
            ],
        )
        self.assertEqual(d.inputs[6].columns, [t.Column("a", "int"), t.Column("b", "text")])
        self.assertEqual((d.output, d.output_columns), (t.ValueType.INT_LIST, [t.Column("a", "int")]))
        self.assertEqual(d.capabilities, [t.Capability_Clock()])

    def test_inc(self):
        self.assertEqual(call("inc_py", x=t.Value_Int(41)), t.Value_Int(42))
        self.assertEqual(
            call("inc_py", x=t.Value_Int(-3)),
            t.NodeError(t.ErrorKind.INVALID_INPUT, "x must not be negative (got -3)", "x"),
        )

    def test_conversions(self):
        ok = call(
            "test_types", a=t.Value_Int(1), b=t.Value_Int(2), c=t.Value_IntList([1, 2]), d=t.Value_Null()
        )
        self.assertEqual(ok, t.Value_IntList([1, 2, 2, 7]))
        wrong = call("test_types", a=t.Value_Text("1"), b=t.Value_Int(2), c=t.Value_IntList([]))
        self.assertEqual(wrong, t.NodeError(t.ErrorKind.INVALID_INPUT, "expected int, got text", "a"))
        missing = call("test_types", a=t.Value_Int(1), b=t.Value_Int(2))
        self.assertEqual(missing.input, "c")

    def test_errors(self):
        args = dict(b=t.Value_Float(2.5), c=t.Value_FloatList([]))
        self.assertEqual(call("test_types", a=t.Value_Int(99), **args).kind, t.ErrorKind.INVALID_INPUT)
        self.assertEqual(call("test_types", a=t.Value_Int(98), **args).message, "HostError: table says no")
        self.assertEqual(call("nope").kind, t.ErrorKind.UNKNOWN_NODE)

        @node
        def test_fails(x: int) -> float:
            return x / 0

        self.assertEqual(
            call("test_fails", x=t.Value_Int(1)),
            t.NodeError(t.ErrorKind.FAILED, "ZeroDivisionError: division by zero", None),
        )
        self.assertIn("in test_fails", LOG[-1][1])

        @node
        def test_bad_result(x: int) -> int:
            return "x"

        self.assertIn("TypeError", call("test_bad_result", x=t.Value_Int(1)).message)

    def test_any_output(self):
        for value, expected in [
            (None, t.Value_Null()),
            (True, t.Value_Bool(True)),
            (3, t.Value_Int(3)),
            (2.5, t.Value_Float(2.5)),
            ([1, 2.5], t.Value_FloatList([1.0, 2.5])),
            (["a"], t.Value_TextList(["a"])),
            (b"x", t.Value_Bytes(b"x")),
        ]:
            self.assertEqual(weavelet._infer(value), expected)

    def test_bad_declarations(self):
        with self.assertRaises(TypeError):
            node(lambda x: x, name="test_star", columns={"y": "a: int"})
        with self.assertRaises(TypeError):

            @node
            def test_dict(x: dict) -> int:
                return 1

    def test_http_response(self):
        r = weavelet.Response("http://h:1/x", 404, [("Set-Cookie", b"a"), ("set-cookie", b"b")], b'{"k": 1}')
        self.assertEqual(r.headers, {"set-cookie": "a, b"})
        self.assertFalse(r.ok)
        self.assertEqual(r.json(), {"k": 1})
        with self.assertRaisesRegex(weavelet.HttpError, "http://h:1/x: the server answered 404"):
            r.raise_for_status()
        ok = weavelet.Response("u", 200, [], "é".encode())
        self.assertIs(ok.raise_for_status(), ok)
        self.assertEqual(ok.text, "é")

    def test_http_refuses_what_it_cannot_send(self):
        # The stubs are of the plain `module` world, which has no wasi:http:
        # the SDK says how the component was built rather than failing obscurely.
        with self.assertRaisesRegex(weavelet.HttpError, "built without wasi:http"):
            weavelet.http.get("http://127.0.0.1:1/")


if __name__ == "__main__":
    unittest.main()
