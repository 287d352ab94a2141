"""FHIR token and reference search values, and how they match what a resource holds.

A token is `system|code` (that system and code), `|code` (a code with no system), `code` (any
system) or `system|` (any code in that system). Systems are compared in their canonical spelling, so
`http://fhir.nhs.uk/id/nhs-number` finds what `https://fhir.nhs.uk/Id/nhs-number` labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from party_common.identifiers import canonical_system
from party_common.outcome import invalid

# A comma ORs values; `\,` is a comma inside a value.
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")

ANY = None  # a token part that matches anything
NONE = ""   # `|code`: the code must carry no system


def split_values(raw: str) -> list[str]:
    return [v.replace("\\,", ",") for v in _UNESCAPED_COMMA.split(raw)]


@dataclass(frozen=True)
class Token:
    system: str | None  # ANY, NONE or a system
    code: str | None    # ANY or a value

    @classmethod
    def parse(cls, raw: str, name: str) -> Token:
        if "|" in raw:
            system, code = raw.split("|", 1)
            if not system and not code:
                raise invalid(f"{name}: {raw!r} names neither a system nor a value", name)
            return cls(canonical_system(system) if system else NONE, code or ANY)
        if not raw:
            raise invalid(f"{name}: an empty value matches nothing; leave the parameter out instead", name)
        return cls(ANY, raw)

    def matches(self, system: str | None, code: str | None) -> bool:
        if self.code is not ANY and code != self.code:
            return False
        if self.system is ANY:
            return True
        if self.system == NONE:
            return not system
        return canonical_system(system) == self.system

    def matches_identifier(self, identifier: dict | None) -> bool:
        return isinstance(identifier, dict) and self.matches(identifier.get("system"), identifier.get("value"))

    def matches_any_identifier(self, identifiers: list | None) -> bool:
        return any(self.matches_identifier(i) for i in identifiers or [])

    def matches_coding(self, concept: dict | None) -> bool:
        """A CodeableConcept (or a bare Coding) holds a matching coding."""
        if not isinstance(concept, dict):
            return False
        codings = concept.get("coding") if "coding" in concept else [concept]
        return any(isinstance(c, dict) and self.matches(c.get("system"), c.get("code")) for c in codings or [])

    def value_in(self, system: str) -> str | None:
        """The code this token asks for when it can only mean `system`'s; None when it cannot."""
        if self.code is ANY or self.system == NONE:
            return None
        if self.system is ANY or self.system == canonical_system(system):
            return self.code
        return None

    def __str__(self) -> str:
        if self.system is ANY:
            return self.code or ""
        return f"{self.system}|{self.code or ''}"


def reference_id(raw: str, resource_type: str | None) -> str:
    """The id a reference search value names: `Type/id`, a bare `id`, or an absolute URL ending so."""
    value = raw.strip()
    if resource_type:
        marker = f"{resource_type}/"
        at = value.rfind(marker)
        if at != -1 and (at == 0 or value[at - 1] == "/"):
            return value[at + len(marker):].split("/_history/")[0]
    return value.rstrip("/").rsplit("/", 1)[-1] if "/" in value else value
