"""Every party is laid out the same way, and the harness is in named parts, so a newcomer who knows one
party knows where everything is in the others (README, "One FastAPI app per party")."""

import importlib
import pkgutil
from pathlib import Path

import pytest
from fastapi import APIRouter
from pydantic_settings import BaseSettings
from sqlalchemy.orm import DeclarativeBase

ROOT = Path(__file__).resolve().parent.parent
PARTIES = ["spine_mock", "trust_pas", "gp_system", "booking_broker", "legacy_pas", "middleware"]
WORKFLOW = {"spine_mock": "booking_index", "trust_pas": "booking_flow", "gp_system": "booking_flow",
            "booking_broker": "booking_flow", "legacy_pas": "booking_flow", "middleware": "booking_flow"}
# Where a party's inbox is when it is not an HTTP route (routes/inbox.py): the legacy PAS takes its
# messages over MLLP, not FHIR, so its inbox is a listener of its own.
NON_HTTP_INBOX = {"legacy_pas": "mllp_inbox"}

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("party", PARTIES)
def test_a_party_has_the_common_modules(party):
    app = importlib.import_module(f"{party}.app")
    assert callable(getattr(app, "create_app", None)), f"{party}/app.py has no create_app"
    settings = importlib.import_module(f"{party}.settings")
    assert issubclass(settings.Settings, BaseSettings)
    models = importlib.import_module(f"{party}.models")
    assert issubclass(models.Base, DeclarativeBase)
    deps = importlib.import_module(f"{party}.dependencies")
    assert any(getattr(v, "__metadata__", None) for v in vars(deps).values()), \
        f"{party}/dependencies.py declares no Annotated dependency alias"
    importlib.import_module(f"{party}.{WORKFLOW[party]}")


@pytest.mark.parametrize("party", PARTIES)
def test_a_party_mounts_every_route_module_and_nothing_else_declares_routes(party):
    routes = importlib.import_module(f"{party}.routes")
    modules = [importlib.import_module(f"{party}.routes.{m.name}")
               for m in pkgutil.iter_modules(routes.__path__)]
    names = {m.__name__.rsplit(".", 1)[1] for m in modules}
    if party in NON_HTTP_INBOX:
        inbox = importlib.import_module(f"{party}.{NON_HTTP_INBOX[party]}")
        assert inbox.__doc__, f"{party}/{NON_HTTP_INBOX[party]}.py has no docstring"
        assert "inbox" not in names, f"{party} has an HTTP inbox as well as {NON_HTTP_INBOX[party]}"
    else:
        assert "inbox" in names, f"{party} has no routes/inbox.py"
    assert {id(m.router) for m in modules} == {id(r) for r in routes.ROUTERS}
    assert all(isinstance(r, APIRouter) for r in routes.ROUTERS)
    # A router outside routes/ would be a second convention for where an endpoint lives.
    for path in sorted((ROOT / party).glob("*.py")):
        module = importlib.import_module(f"{party}.{path.stem}" if path.stem != "__init__" else party)
        routers = [n for n, v in vars(module).items() if isinstance(v, APIRouter)]
        assert not routers, f"{party}/{path.name} declares routes outside {party}/routes/: {routers}"


def test_the_harness_is_in_named_parts_with_no_loose_modules():
    harness = ROOT / "harness"
    loose = sorted(p.name for p in harness.glob("*.py") if p.name != "__init__.py")
    assert loose == [], f"harness modules outside a part: {loose}"
    parts = {p.name for p in harness.iterdir() if (p / "__init__.py").is_file()}
    assert {"cli", "run", "stack", "scenario", "replay", "report", "reconcile"} <= parts
