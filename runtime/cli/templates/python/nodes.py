"""The nodes of {{name}}: each @node function is a node, its parameters are its inputs."""

from weavelet import InvalidInput, node


@node
def greeting(name: str) -> str:
    """A greeting for `name` (a pipeline parameter)."""
    if not name.strip():
        raise InvalidInput("name", "name must not be empty")
    return f"Hello, {name}!"


@node
def loud(greeting: str) -> str:
    """The greeting, louder."""
    return greeting.upper()
