"""`switchyard schema codegen` against the live registry (lead.created v1,
the example schema): Python TypedDicts with emit helpers that work, and the
Rust output is byte for byte the file the Rust tests compile."""

import importlib
import os
import subprocess
import sys
import typing

import pytest
import typing_extensions
from typing_extensions import NotRequired

from conftest import REPOSITORY


def codegen(lang: str, out) -> str:
    return subprocess.run(
        [os.environ["SWITCHYARD_BIN"], "schema", "codegen", "--lang", lang, "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def lead_events(admin, tmp_path, monkeypatch):
    output = codegen("python", tmp_path / "lead_events")
    assert "lead_created_v1.py" in output and "__init__.py" in output
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("lead_events")
    yield module
    for name in [name for name in sys.modules if name.startswith("lead_events")]:
        del sys.modules[name]


def test_python_types_follow_the_schema(lead_events):
    lead = lead_events.LeadCreatedV1
    assert typing.is_typeddict(lead)
    hints = typing.get_type_hints(lead, include_extras=True)
    assert set(hints) == {"id", "email", "name", "amount", "source"}
    assert hints["email"] is str and hints["id"] is str
    optional = {name for name, hint in hints.items() if hint is not str}
    assert optional == {"name", "amount", "source"}
    assert all(typing_extensions.get_origin(hints[name]) is NotRequired for name in optional)
    [source] = typing.get_args(hints["source"])
    assert typing.get_args(source) == ("web", "ads", "referral", "event")


MYPY_PROGRAM = """
from switchyard_client import Switchyard
from lead_events import emit_lead_created

def send(client: Switchyard) -> None:
    emit_lead_created(client, {PAYLOAD})
"""


def mypy(tmp_path, payload: str) -> subprocess.CompletedProcess:
    # mypy cannot see through the editable install: name the sources.
    search_path = [tmp_path, REPOSITORY / "clients/python/src", REPOSITORY / "clients/python/gen"]
    program = tmp_path / "program.py"
    program.write_text(MYPY_PROGRAM.replace("{PAYLOAD}", payload))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", "--ignore-missing-imports", "--no-incremental", str(program)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": os.pathsep.join(map(str, search_path))},
    )


def test_a_wrong_payload_fails_type_checking(lead_events, tmp_path):
    wrong = mypy(tmp_path, '{"id": "x", "email": 1}')
    assert wrong.returncode == 1, wrong.stdout
    assert "program.py:6: error:" in wrong.stdout, wrong.stdout
    assert 'TypedDict item "email" has type "str"' in wrong.stdout, wrong.stdout
    right = mypy(tmp_path, '{"id": "x", "email": "a@example.com"}')
    assert right.returncode == 0, right.stdout


def test_the_generated_helper_emits_at_the_typed_version(admin, lead_events):
    emitted = lead_events.emit_lead_created(admin, {"id": "py_typed", "email": "typed@example.com"})
    assert emitted.event_id.startswith("evt_")
    assert emitted.schema_version == 1


def test_rust_output_is_the_file_the_rust_tests_compile(admin, tmp_path):
    codegen("rust", tmp_path)
    compiled = REPOSITORY / "services/switchyard/tests/codegen/lead_events.rs"
    assert (tmp_path / "mod.rs").read_text() == compiled.read_text()
