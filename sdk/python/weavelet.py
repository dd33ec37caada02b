"""Write Weavelet pipeline nodes as plain Python functions.

A node is an ordinary function marked ``@node``. **Its parameter names are its
inputs**: an input called ``orders`` receives the output of the node called
``orders``, or the pipeline parameter of that name. The annotations give the
input and output types, the docstring becomes the node's documentation, and an
exception raised by the node becomes a node error that the host reports as
``node NAME failed: ValueError: ...``::

    from weavelet import node, InvalidInput, Table

    @node
    def inc(x: int) -> int:
        \"\"\"x plus one.\"\"\"
        if x < 0:
            raise InvalidInput("x", f"x must not be negative (got {x})")
        return x + 1

    @node(columns={"orders": "region: text, revenue: number"})
    def by_region(orders: Table) -> Table:
        \"\"\"Revenue per region.\"\"\"
        return orders.group_by(["region"], [agg("revenue", "sum(revenue)")])

Put the nodes in ``nodes.py`` and list the folder in a pipeline (``python = "folder"``):
``weavelet run`` builds it with componentize-py, as

    componentize-py -d python-wit -w python-module componentize nodes -p folder -p sdk/python -o nodes.wasm

(``python-module`` is the ``module`` world plus ``wasi:http/outgoing-handler``, for
``weavelet.http``: outgoing HTTP(S) to the hosts of the node's ``net`` grant.)

The SDK exports the component's ``node`` interface itself: componentize-py
looks for a class named ``Node`` in the app module, and the first ``@node``
puts this SDK's ``Node`` there (``from weavelet import Node`` does the same,
explicitly).

Types (annotation -> Weavelet type):

=====================================  ===========================
``None`` (return)                      ``null``
``bool``                               ``bool``
``int``                                ``int``
``float``                              ``float`` (an int is widened)
``str``                                ``text``
``bytes``                              ``bytes``
``list[bool]`` / ``[int]`` / ``[float]`` / ``[str]``  typed lists
``Table``, ``Svg``, ``Image``          host handles (data stays in the host)
``list[Image]``                        ``images``
no annotation, ``Any``                 ``any`` (Python value by its type)
``Optional[T]``, ``T | None``,         optional input of ``T`` (``None`` or
a parameter with a default             the default when nothing binds to it)
=====================================  ===========================
"""

from __future__ import annotations

import inspect
import json as _json
import traceback
import types as _pytypes
import typing

from componentize_py_types import Err
from wit_world import exports as _exports
from wit_world.imports import host as _host

try:  # Weavelet builds Python nodes in a world that also imports wasi:http,
    from wit_world.imports import weavelet_node_types as _t
except ImportError:  # which renames this one; the plain `module` world does not.
    from wit_world.imports import types as _t

try:
    from wit_world.imports import outgoing_handler as _outgoing
    from wit_world.imports import streams as _streams
    from wit_world.imports import wasi_http_types as _ht
except ImportError:  # built against the plain `module` world: no HTTP
    _outgoing = None

# ---------------------------------------------------------------------------
# Host resources and records under friendly names.

Table = _t.Table
Svg = _t.Svg
Image = _t.Image
Column = _t.Column
Aggregation = _t.Aggregation
ChartKind = _t.ChartKind
ChartSpec = _t.ChartSpec
JoinKind = _t.JoinKind
LogLevel = _host.LogLevel
ValueType = _t.ValueType

#: What a failed host call raises (``table.select``, ``svg.rect``, ...):
#: ``e.value`` is the host's message. Uncaught, it fails the node with
#: ``HostError: <message>``.
HostError = Err


def agg(name: str, expr: str) -> Aggregation:
    """An aggregation for ``Table.group_by``: output ``name`` computed as ``expr``."""
    return Aggregation(name, expr)


def chart_spec(
    kind: ChartKind,
    x: str,
    y: list[str],
    title: str = "",
    *,
    x_label: str = "",
    y_label: str = "",
    width: float = 0.0,
    height: float = 0.0,
    bins: int = 0,
) -> ChartSpec:
    """A ``ChartSpec`` with defaults for everything but the kind and the columns."""
    return ChartSpec(kind, x, list(y), title, x_label, y_label, float(width), float(height), bins)


def log(level: LogLevel, message: str) -> None:
    """Append a line to this node's log."""
    _host.log(level, str(message))


def debug(message: str) -> None:
    _host.log(LogLevel.DEBUG, str(message))


def info(message: str) -> None:
    _host.log(LogLevel.INFO, str(message))


def warn(message: str) -> None:
    _host.log(LogLevel.WARN, str(message))


def error(message: str) -> None:
    _host.log(LogLevel.ERROR, str(message))


def progress(done: int, total: int = 0, message: str = "") -> None:
    """Report progress: ``done`` of ``total`` units (``total`` 0 when unknown)."""
    _host.progress(int(done), int(total), str(message))


class InvalidInput(Exception):
    """Raise it to reject an input: the node fails with ``invalid-input`` on ``input``."""

    def __init__(self, input: str, message: str):
        super().__init__(message)
        self.input = input
        self.message = message


# ---------------------------------------------------------------------------
# Annotations -> value types.

_VT = _t.ValueType
_SCALARS = {
    bool: _VT.BOOL,
    int: _VT.INT,
    float: _VT.FLOAT,
    str: _VT.TEXT,
    bytes: _VT.BYTES,
    Table: _VT.TABLE,
    Svg: _VT.SVG,
    Image: _VT.IMAGE,
    type(None): _VT.NULL,
}
_LISTS = {
    bool: _VT.BOOL_LIST,
    int: _VT.INT_LIST,
    float: _VT.FLOAT_LIST,
    str: _VT.TEXT_LIST,
    Image: _VT.IMAGES,
}
_EMPTY = inspect.Parameter.empty


def _value_type(ann, where: str) -> tuple[_t.ValueType, bool]:
    """The Weavelet type of an annotation, and whether it admits ``None``."""
    if ann is _EMPTY or ann is typing.Any or ann is object:
        return _VT.ANY, False
    if ann is None:
        return _VT.NULL, False
    origin = typing.get_origin(ann)
    if origin is typing.Union or origin is _pytypes.UnionType:
        rest = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"{where}: only Optional[T] unions are supported, not {ann!r}")
        return _value_type(rest[0], where)[0], True
    if origin is list:  # list[int] and typing.List[int]
        (item,) = typing.get_args(ann) or (None,)
        if item in _LISTS:
            return _LISTS[item], False
        raise TypeError(f"{where}: unsupported list type {ann!r} (list of bool, int, float, str or Image)")
    if ann in _SCALARS:
        return _SCALARS[ann], False
    raise TypeError(f"{where}: unsupported type {ann!r}")


def _columns(spec) -> list[_t.Column]:
    """``"a: int, b: text"``, ``{"a": "int"}`` or ``[("a", "int")]`` -> columns."""
    if spec is None:
        return []
    if isinstance(spec, str):
        pairs = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, dtype = part.partition(":")
            if not sep:
                raise ValueError(f"column {part!r}: expected `name: type`")
            pairs.append((name.strip(), dtype.strip()))
    elif isinstance(spec, dict):
        pairs = list(spec.items())
    else:
        pairs = list(spec)
    return [_t.Column(str(n), str(d)) for n, d in pairs]


# ---------------------------------------------------------------------------
# Value conversion.

_TYPE_NAMES = {
    _t.Value_Null: "null",
    _t.Value_Bool: "bool",
    _t.Value_Int: "int",
    _t.Value_Float: "float",
    _t.Value_Text: "text",
    _t.Value_Bytes: "bytes",
    _t.Value_BoolList: "bool-list",
    _t.Value_IntList: "int-list",
    _t.Value_FloatList: "float-list",
    _t.Value_TextList: "text-list",
    _t.Value_Table: "table",
    _t.Value_Svg: "svg",
    _t.Value_Image: "image",
    _t.Value_Images: "images",
}
# The value cases a declared input type accepts (ints widen to floats).
_ACCEPTS = {
    _VT.NULL: (_t.Value_Null,),
    _VT.BOOL: (_t.Value_Bool,),
    _VT.INT: (_t.Value_Int,),
    _VT.FLOAT: (_t.Value_Float, _t.Value_Int),
    _VT.TEXT: (_t.Value_Text,),
    _VT.BYTES: (_t.Value_Bytes,),
    _VT.BOOL_LIST: (_t.Value_BoolList,),
    _VT.INT_LIST: (_t.Value_IntList,),
    _VT.FLOAT_LIST: (_t.Value_FloatList, _t.Value_IntList),
    _VT.TEXT_LIST: (_t.Value_TextList,),
    _VT.TABLE: (_t.Value_Table,),
    _VT.SVG: (_t.Value_Svg,),
    _VT.IMAGE: (_t.Value_Image,),
    _VT.IMAGES: (_t.Value_Images,),
}


def _type_name(ty: _t.ValueType) -> str:
    return ty.name.lower().replace("_", "-")


def _from_value(value, ty: _t.ValueType):
    """A WIT value as the Python value a parameter of type ``ty`` gets (or ``TypeError``)."""
    if ty is not _VT.ANY and not isinstance(value, _ACCEPTS[ty]):
        raise TypeError(
            f"expected {_type_name(ty)}, got {_TYPE_NAMES.get(type(value), type(value).__name__)}"
        )
    if isinstance(value, _t.Value_Null):
        return None
    if ty is _VT.FLOAT:
        return float(value.value)
    if ty is _VT.FLOAT_LIST:
        return [float(v) for v in value.value]
    return value.value


_I64 = (-(1 << 63), (1 << 63) - 1)


def _int(v) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"expected int, got {type(v).__name__}")
    if not _I64[0] <= v <= _I64[1]:
        raise OverflowError(f"{v} does not fit in a 64-bit integer")
    return v


def _float(v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"expected float, got {type(v).__name__}")
    return float(v)


def _check(v, cls, what: str):
    if not isinstance(v, cls):
        raise TypeError(f"expected {what}, got {type(v).__name__}")
    return v


def _to_value(v, ty: _t.ValueType):
    """A Python value returned by a node as the WIT value of type ``ty``."""
    if ty is _VT.ANY:
        return _infer(v)
    if ty is _VT.NULL:
        if v is not None:
            raise TypeError(f"expected None, got {type(v).__name__}")
        return _t.Value_Null()
    if ty is _VT.BOOL:
        return _t.Value_Bool(_check(v, bool, "bool"))
    if ty is _VT.INT:
        return _t.Value_Int(_int(v))
    if ty is _VT.FLOAT:
        return _t.Value_Float(_float(v))
    if ty is _VT.TEXT:
        return _t.Value_Text(_check(v, str, "str"))
    if ty is _VT.BYTES:
        return _t.Value_Bytes(bytes(_check(v, (bytes, bytearray, memoryview), "bytes")))
    if ty is _VT.BOOL_LIST:
        return _t.Value_BoolList([_check(x, bool, "bool") for x in v])
    if ty is _VT.INT_LIST:
        return _t.Value_IntList([_int(x) for x in v])
    if ty is _VT.FLOAT_LIST:
        return _t.Value_FloatList([_float(x) for x in v])
    if ty is _VT.TEXT_LIST:
        return _t.Value_TextList([_check(x, str, "str") for x in v])
    if ty is _VT.TABLE:
        return _t.Value_Table(_check(v, Table, "Table"))
    if ty is _VT.SVG:
        return _t.Value_Svg(_check(v, Svg, "Svg"))
    if ty is _VT.IMAGE:
        return _t.Value_Image(_check(v, Image, "Image"))
    if ty is _VT.IMAGES:
        return _t.Value_Images([_check(x, Image, "Image") for x in v])
    raise TypeError(f"cannot return a value of type {_type_name(ty)}")


def _infer(v):
    """The WIT value of an ``any`` output, by the Python value's type."""
    if type(v) in _TYPE_NAMES:  # already a WIT value
        return v
    if v is None:
        return _t.Value_Null()
    for cls, ty in (
        (bool, _VT.BOOL),
        (int, _VT.INT),
        (float, _VT.FLOAT),
        (str, _VT.TEXT),
        ((bytes, bytearray), _VT.BYTES),
        (Table, _VT.TABLE),
        (Svg, _VT.SVG),
        (Image, _VT.IMAGE),
    ):
        if isinstance(v, cls):
            return _to_value(v, ty)
    if isinstance(v, (list, tuple)):
        items = list(v)
        for cls, ty in (
            (bool, _VT.BOOL_LIST),
            (int, _VT.INT_LIST),
            ((int, float), _VT.FLOAT_LIST),
            (str, _VT.TEXT_LIST),
            (Image, _VT.IMAGES),
        ):
            if all(isinstance(x, cls) for x in items) and (
                cls is not int or not any(isinstance(x, bool) for x in items)
            ):
                return _to_value(items, ty)  # an empty list is a bool-list
    raise TypeError(f"cannot return a {type(v).__name__} as a Weavelet value")


# ---------------------------------------------------------------------------
# Declaring nodes.


class _Input:
    __slots__ = ("name", "ty", "optional", "default", "columns")

    def __init__(self, name, ty, optional, default, columns):
        self.name, self.ty, self.optional, self.default, self.columns = name, ty, optional, default, columns


class _NodeDef:
    def __init__(self, fn, name, doc, inputs, output, output_columns, capabilities):
        self.fn, self.name, self.doc = fn, name, doc
        self.inputs, self.output = inputs, output
        self.output_columns, self.capabilities = output_columns, capabilities

    def decl(self) -> _t.NodeDecl:
        return _t.NodeDecl(
            self.name,
            self.doc,
            [_t.InputDecl(i.name, i.ty, i.optional, list(i.columns)) for i in self.inputs],
            self.output,
            list(self.output_columns),
            list(self.capabilities),
        )


_NODES: dict[str, _NodeDef] = {}


def _define(
    fn,
    name=None,
    columns=None,
    output_columns=None,
    read_dir=None,
    write_dir=None,
    env=(),
    clock=False,
    random=False,
):
    name = name or fn.__name__
    if name in _NODES:
        raise ValueError(f"two nodes are called {name!r}")
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation that does not resolve: use it as written
        hints = getattr(fn, "__annotations__", {})
    columns = dict(columns or {})
    inputs = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"node {name}: *args and **kwargs cannot be inputs")
        ty, nullable = _value_type(hints.get(p.name, _EMPTY), f"node {name}, input {p.name}")
        has_default = p.default is not _EMPTY
        cols = _columns(columns.pop(p.name, None))
        if cols and ty not in (_VT.TABLE, _VT.ANY):
            raise TypeError(f"node {name}: columns are for table inputs, and {p.name} is not one")
        inputs.append(_Input(p.name, ty, nullable or has_default, p.default if has_default else None, cols))
    if columns:
        raise TypeError(f"node {name}: columns for unknown inputs {sorted(columns)}")
    output, _ = _value_type(
        hints.get("return", inspect.signature(fn).return_annotation), f"node {name}, output"
    )
    caps = [_t.Capability_ReadDir(d) for d in _many(read_dir)]
    caps += [_t.Capability_WriteDir(d) for d in _many(write_dir)]
    caps += [_t.Capability_Env(k) for k in _many(env)]
    caps += [_t.Capability_Clock()] if clock else []
    caps += [_t.Capability_Random()] if random else []
    _NODES[name] = _NodeDef(
        fn, name, inspect.getdoc(fn) or "", inputs, output, _columns(output_columns), caps
    )
    # componentize-py takes the export class `Node` from the app module.
    module = inspect.getmodule(fn)
    if module is not None and not hasattr(module, "Node"):
        module.Node = Node
    return fn


def _many(v):
    return [] if v is None else [v] if isinstance(v, str) else list(v)


def node(
    fn=None,
    *,
    name: str | None = None,
    columns: dict | None = None,
    output_columns=None,
    read_dir=None,
    write_dir=None,
    env=(),
    clock: bool = False,
    random: bool = False,
):
    """Mark a function as a node: ``@node`` or ``@node(name=..., columns={...}, ...)``.

    ``columns`` maps a table input to the columns it requires
    (``{"orders": "quantity: number, unit_price: number"}``); ``output_columns``
    are the columns a table output promises. ``read_dir``, ``write_dir``,
    ``env``, ``clock`` and ``random`` ask for capabilities the operator grants.
    The function itself is returned unchanged, so it can still be called and
    tested as plain Python.
    """
    options = dict(
        name=name,
        columns=columns,
        output_columns=output_columns,
        read_dir=read_dir,
        write_dir=write_dir,
        env=env,
        clock=clock,
        random=random,
    )
    if fn is None:
        return lambda f: _define(f, **options)
    return _define(fn, **options)


# ---------------------------------------------------------------------------
# The exported interface.


def _node_error(kind, message, input=None):
    return Err(_t.NodeError(kind, message, input))


def _describe(e: BaseException) -> str:
    if isinstance(e, Err):  # a host call failed
        return f"HostError: {e.value}"
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


class Node(_exports.Node):
    """The ``node`` interface of the component, over every ``@node`` function."""

    def nodes(self) -> list[_t.NodeDecl]:
        return [d.decl() for d in _NODES.values()]

    def run(self, name: str, inputs: list[tuple[str, _t.Value]]) -> _t.Value:
        d = _NODES.get(name)
        if d is None:
            raise _node_error(_t.ErrorKind.UNKNOWN_NODE, f"this component has no node `{name}`")
        given = dict(inputs)
        args = {}
        for i in d.inputs:
            value = given.pop(i.name, None)
            if value is None or isinstance(value, _t.Value_Null):
                if i.optional:
                    args[i.name] = i.default
                    continue
                if value is None:
                    raise _node_error(_t.ErrorKind.INVALID_INPUT, "the host did not pass this input", i.name)
            try:
                args[i.name] = _from_value(value, i.ty)
            except TypeError as e:
                raise _node_error(_t.ErrorKind.INVALID_INPUT, str(e), i.name) from None
        try:
            result = d.fn(**args)
        except InvalidInput as e:
            raise _node_error(_t.ErrorKind.INVALID_INPUT, e.message, e.input) from None
        except Exception as e:
            # The whole traceback goes to the node's log; the error names the exception.
            tb = traceback.format_exception(type(e), e, e.__traceback__.tb_next)  # without this frame
            _host.log(LogLevel.ERROR, "".join(tb).rstrip())
            raise _node_error(_t.ErrorKind.FAILED, _describe(e)) from None
        try:
            return _to_value(result, d.output)
        except (TypeError, OverflowError) as e:
            raise _node_error(_t.ErrorKind.FAILED, f"{type(e).__name__}: the node's result: {e}") from None


# ---------------------------------------------------------------------------
# Outgoing HTTP(S), through wasi:http: the host sends a request only to the
# hosts of the node's `net` grant, counts it against the node's budgets and
# never follows a redirect.


class HttpError(Exception):
    """A request that failed: refused by the host, timed out, or unreadable.

    ``str(e)`` names the URL and why. Uncaught, it fails the node.
    """


class Response:
    """A whole response: ``status``, ``headers`` (lowercase names), ``content``."""

    def __init__(self, url: str, status: int, headers: list[tuple[str, bytes]], content: bytes):
        self.url = url
        self.status = status
        #: Header name (lowercase) -> value; repeated headers joined by ``", "``.
        self.headers: dict[str, str] = {}
        for name, value in headers:
            text = value.decode("latin-1")
            name = name.lower()
            self.headers[name] = f"{self.headers[name]}, {text}" if name in self.headers else text
        self.content = content

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        """The body as UTF-8 text (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    def json(self):
        """The body parsed as JSON."""
        return _json.loads(self.content)

    def raise_for_status(self) -> "Response":
        """Raise ``HttpError`` unless the status is 2xx; else return the response."""
        if not self.ok:
            raise HttpError(f"{self.url}: the server answered {self.status}")
        return self

    def __repr__(self) -> str:
        return f"<Response {self.status} from {self.url}, {len(self.content)} bytes>"


_METHODS = {
    "GET": "Method_Get",
    "HEAD": "Method_Head",
    "POST": "Method_Post",
    "PUT": "Method_Put",
    "DELETE": "Method_Delete",
    "PATCH": "Method_Patch",
    "OPTIONS": "Method_Options",
}


def _http_failure(url: str, code) -> HttpError:
    name = type(code).__name__.removeprefix("ErrorCode_")
    why = {
        "HttpRequestDenied": "refused by the host: the node's `net` grant does not name this host and port, "
        "or its network budget is spent (the run's log says which)",
        "DestinationIpProhibited": "refused by the host: the name resolves to an address that is not public",
        "ConnectionTimeout": "timed out (the node's wall-time budget ended)",
        "ConnectionReadTimeout": "timed out (the node's wall-time budget ended)",
        "HttpResponseBodySize": "the node's network byte budget is spent",
    }.get(name)
    if why is None:
        value = getattr(code, "value", None)
        why = name if value is None else f"{name}: {value}"
    return HttpError(f"{url}: {why}")


def _split_url(url: str):
    for prefix, scheme in (("https://", "Scheme_Https"), ("http://", "Scheme_Http")):
        if url[: len(prefix)].lower() == prefix:
            rest = url[len(prefix) :]
            break
    else:
        raise HttpError(f"`{url}` is not an http:// or https:// URL")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:]
    if not path.startswith("/"):
        path = "/" + path
    return getattr(_ht, scheme)(), authority, path


def _read_all(stream) -> bytes:
    chunks = []
    while True:
        try:
            chunks.append(stream.blocking_read(64 * 1024))
        except Err as e:
            if isinstance(e.value, _streams.StreamError_Closed):
                return b"".join(chunks)
            raise


def _request(method: str, url: str, headers=None, body: bytes = b"") -> Response:
    if _outgoing is None:
        raise HttpError(
            f"{url}: this component was built without wasi:http "
            "(build it with `weavelet build`, which builds Python nodes in the world that imports it)"
        )
    if isinstance(body, str):
        body = body.encode("utf-8")
    scheme, authority, path = _split_url(url)
    entries = [(str(k).lower(), str(v).encode("latin-1")) for k, v in dict(headers or {}).items()]
    if body and not any(name == "content-length" for name, _ in entries):
        entries.append(("content-length", str(len(body)).encode()))
    try:
        fields = _ht.Fields.from_list(entries)
    except Err as e:
        raise HttpError(f"{url}: a header is not allowed ({type(e.value).__name__.removeprefix('HeaderError_')})") from None
    request = _ht.OutgoingRequest(fields)
    upper = method.upper()
    kind = _METHODS.get(upper)
    try:
        request.set_method(getattr(_ht, kind)() if kind else _ht.Method_Other(upper))
        request.set_scheme(scheme)
        request.set_authority(authority)
        request.set_path_with_query(path)
    except Err:
        raise HttpError(f"`{url}`: not a valid {upper} request (method, host:port or path)") from None
    outgoing = request.body()
    try:
        pending = _outgoing.handle(request, None)
    except Err as e:
        raise _http_failure(url, e.value) from None
    sending = None
    try:
        with outgoing.write() as stream:
            for at in range(0, len(body), 4096):
                stream.blocking_write_and_flush(body[at : at + 4096])
    except Err as e:  # a refused request drops its body: the answer below says why
        sending = HttpError(f"{url}: sending the body failed ({type(e.value).__name__})")
    try:
        _ht.OutgoingBody.finish(outgoing, None)
    except Err as e:
        sending = sending or _http_failure(url, e.value)
    with pending:
        with pending.subscribe() as ready:
            ready.block()
        answer = pending.get()
    if answer is None or isinstance(answer, Err):
        raise HttpError(f"{url}: no response")
    answer = answer.value  # the request's own result
    if isinstance(answer, Err):
        raise _http_failure(url, answer.value)
    if sending is not None:
        raise sending
    with answer.value as response:
        status = response.status()
        with response.headers() as fields:
            header_list = fields.entries()
        with response.consume() as incoming:
            with incoming.stream() as stream:
                try:
                    content = _read_all(stream)
                except Err as e:
                    raise HttpError(f"{url}: reading the response failed ({getattr(e.value, 'value', e.value)!r})") from None
    return Response(url, status, header_list, content)


class _Http:
    """``weavelet.http``: ``get``, ``post`` and ``request``, like ``requests``.

    Synchronous; the whole response is read. Only hosts the node's ``net``
    grant names are reachable; anything else raises ``HttpError``::

        from weavelet import node, http

        @node
        def rates(base: str) -> str:
            return http.get(f"https://api.example.com/latest?base={base}").raise_for_status().text
    """

    HttpError = HttpError
    Response = Response

    @staticmethod
    def get(url: str, headers: dict | None = None) -> Response:
        """``GET url``."""
        return _request("GET", url, headers)

    @staticmethod
    def post(url: str, data: bytes | str = b"", headers: dict | None = None, json=None) -> Response:
        """``POST url`` with ``data`` (bytes or text) or ``json`` (serialised, with its content type)."""
        headers = dict(headers or {})
        if json is not None:
            data = _json.dumps(json).encode()
            headers.setdefault("content-type", "application/json")
        return _request("POST", url, headers, data)

    @staticmethod
    def request(method: str, url: str, data: bytes | str = b"", headers: dict | None = None) -> Response:
        """Any method: ``GET``, ``PUT``, ``DELETE``, ..."""
        return _request(method, url, headers, data)


#: Outgoing HTTP(S): ``http.get(url)``, ``http.post(url, json=...)``.
http = _Http()


def _warm_up() -> None:
    """Format a traceback once while componentize-py pre-initialises the app.

    Only modules imported before the snapshot exist in the component (it has
    no Python files at run time), and ``traceback`` imports some helpers on
    first use (suggestions for a misspelt name, colours).
    """
    try:
        _ = (lambda: None).no_such_attribute
    except AttributeError as e:
        traceback.format_exception(type(e), e, e.__traceback__)


_warm_up()

__all__ = [
    "node",
    "Node",
    "InvalidInput",
    "HostError",
    "Table",
    "Svg",
    "Image",
    "Column",
    "Aggregation",
    "ChartKind",
    "ChartSpec",
    "JoinKind",
    "LogLevel",
    "ValueType",
    "agg",
    "chart_spec",
    "log",
    "debug",
    "info",
    "warn",
    "error",
    "progress",
    "http",
    "HttpError",
    "Response",
]
