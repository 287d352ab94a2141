"""What the R4B models say of each element's shape, and the first element of a body that breaks it,
where fhir.resources does not say so itself.

- It answers most bad input with a validation error, but some with a TypeError: its `url` validator
  looks the value up in a set, so an object or array where a url belongs
  (`MessageHeader.source.endpoint: {}`) raises "unhashable type" from inside validation. And it
  coerces some values FHIR JSON does not allow (a number for a dateTime, "5" for an integer, 1 for a
  boolean), which the parties, reading the JSON as sent, then fail on (`datetime.fromisoformat(1.5)`).
  Such a body is the sender's fault, and `misplaced_value` names its element, as a validation error
  would.
- It takes `"element": null` as an element left out, but the parties read the JSON as sent, where
  `reason.get("coding", [])` is then None. FHIR JSON has no null property values ("JSON values are
  never null"; only an array of primitives may hold one, beside its `_element` twin), so
  `null_property` names the first one and the body is refused.
"""

from __future__ import annotations

import decimal
import types
import typing
from functools import lru_cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel
from fhir.resources.R4B.resource import Resource

from party_common.outcome import Issue


def unwrap(annotation) -> tuple[bool, typing.Any]:
    """(is a list, the item type) of an R4B field's annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return unwrap(next(a for a in typing.get_args(annotation) if a is not type(None)))
    if origin is typing.Annotated:
        return unwrap(typing.get_args(annotation)[0])
    if origin is list:
        return True, unwrap(typing.get_args(annotation)[0])[1]
    return False, annotation


def element_model(item) -> type[BaseModel] | None:
    """The R4B model an element's type marker (`abc.AppointmentParticipantType`) stands for; None for
    a primitive."""
    name = getattr(item, "__name__", "")
    return get_fhir_model_class(name.removesuffix("Type")) if name.endswith("Type") else None


def _resource_model(value: dict) -> type[BaseModel] | None:
    try:
        model = get_fhir_model_class(value.get("resourceType"))
    except (ValueError, TypeError, KeyError):
        return None
    return model if issubclass(model, Resource) else None


# The JSON type FHIR gives each primitive: a string (dates, codes, ids, urls, base64...), a boolean, an
# integer or a number (decimal); and the Python types orjson reads each as.
_JSON_TYPES = {bool: "boolean", int: "integer", decimal.Decimal: "number", float: "number"}
_READ_AS = {"string": (str,), "boolean": (bool,), "integer": (int,), "number": (int, float)}


@lru_cache(maxsize=None)
def _fields(model: type[BaseModel]) -> dict[str, tuple[bool, Any]]:
    """alias -> (is a list, what each value is: an R4B model, or the JSON type of a primitive, or None
    when anything goes) for each element of `model`."""
    out = {}
    for name, field in model.model_fields.items():
        is_list, item = unwrap(field.annotation)
        kind: type[BaseModel] | str | None
        try:
            kind = element_model(item)
        except (ValueError, KeyError):
            kind = None  # a marker of no model: not looked into
        if kind is None and name != "fhir_comments" and not getattr(item, "__name__", "").endswith("Type"):
            kind = _JSON_TYPES.get(item, "string")
        out[field.alias or name] = (is_list, kind)
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _wrong(where: str, value: Any, kind: str) -> Issue:
    return Issue("value", f"{where}: {_shown(value)} is not a {kind}, which FHIR JSON writes it as", [where])


def misplaced_value(root: str, data: dict, model: type) -> Issue | None:
    """The first element of `data` (a resource of R4B `model`, at FHIR path `root`) whose JSON value is
    not of the JSON type FHIR gives it: an object or array for a primitive, a number for a dateTime, a
    string for an integer or boolean (which the models coerce). None when there is none.

    Every valid body is walked once, so paths are only written for what is looked into or wrong."""
    stack: list[tuple[str, dict, type]] = [(root, data, model)]
    while stack:
        path, node, node_model = stack.pop()
        fields = _fields(node_model)
        children = []
        for key, value in node.items():
            is_list, kind = fields.get(key, (False, None))
            if kind is None or value is None:
                continue
            values = value if is_list and type(value) is list else None if is_list else (value,)
            if values is None:
                continue  # a single value for an array is a plain validation error
            if type(kind) is str:
                allowed = _READ_AS[kind]
                for i, each in enumerate(values):
                    if each is not None and type(each) not in allowed:
                        return _wrong(f"{path}.{key}[{i}]" if is_list else f"{path}.{key}", each, kind)
                continue
            for i, each in enumerate(values):
                if type(each) is not dict:
                    continue
                # A resource inside (Bundle.entry.resource, contained) is read by its own resourceType.
                inner = _resource_model(each) if issubclass(kind, Resource) else kind
                if inner is not None:
                    children.append((f"{path}.{key}[{i}]" if is_list else f"{path}.{key}", each, inner))
        stack.extend(reversed(children))
    return None


def _holds_null(data: Any) -> bool:
    """Whether any property inside `data` is null: the check every valid body pays for, so no paths."""
    stack = [data]
    while stack:
        node = stack.pop()
        values = node.values() if type(node) is dict else node
        for value in values:
            if type(value) is dict or type(value) is list:
                stack.append(value)
            elif value is None and type(node) is dict:
                return True
    return False


def null_property(root: str, data: Any) -> Issue | None:
    """The first property of `data` (at FHIR path `root`) whose value is null; None when there is none."""
    if not _holds_null(data):
        return None
    stack: list[tuple[str, Any]] = [(root, data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if value is None:
                    where = f"{path}.{key}"
                    return Issue("value", f"{where}: null is not a FHIR JSON value; leave the element out", [where])
            stack.extend((f"{path}.{k}", v) for k, v in reversed(node.items()) if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(node))) if isinstance(v, dict | list))
    return None
