"""Every route the app serves, as (method, path pattern), for tests that must cover routes added
later without being told about them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

PARAMETER = re.compile(r"\{(\w+)(:\w+)?\}")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

DEMO_VALUES = {
    "survey": "coventry-supervision",
    "wave": "2015",
    "wave_key": "2016",
    "version": "2015",
    "question": "4a",
    "section": "key_basics",
    "team": "cf_first",
    "team_key": "cf_first",
}
"""Path parameters filled with the demo's own keys, so that requests reach real pages."""


@dataclass(frozen=True)
class RouteUse:
    method: str
    pattern: str
    """e.g. /s/{survey}/{wave_key}/section/{section}; a mount's is its prefix plus /{path}."""
    query: tuple[str, ...] = ()
    """The query parameters the route reads."""

    @property
    def parameters(self) -> list[str]:
        return [match.group(1) for match in PARAMETER.finditer(self.pattern)]

    def path(self, value: Callable[[str], str] | Mapping[str, str] = DEMO_VALUES) -> str:
        """The pattern with each parameter filled: from a mapping (else "x"), or by a function
        of the parameter's name."""
        fill = value if callable(value) else (lambda name: value.get(name, "x"))
        return PARAMETER.sub(lambda match: fill(match.group(1)), self.pattern)


def route_uses(app: FastAPI) -> Iterator[RouteUse]:
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount):
            yield RouteUse("GET", f"{context.path}/{{path}}")
            continue
        route = context.original_route
        query = tuple(sorted(_query(route.dependant))) if isinstance(route, APIRoute) else ()
        for method in sorted((context.methods or set()) - {"HEAD"}):
            yield RouteUse(method, context.path, query)


def _query(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query(sub)
    return names
