"""The brief's example in Python: register the lead.created schema, emit one
valid lead (prints its event id) and one invalid (prints the violations).

    SWITCHYARD_API_KEY=sy_live_… python examples/lead_created.py
"""

import os
import pathlib

from switchyard.v1 import registry_pb2

from switchyard_client import Switchyard, SwitchyardError

schema = pathlib.Path(__file__).resolve().parents[3] / "examples/lead.schema.json"

with Switchyard(api_key=os.environ["SWITCHYARD_API_KEY"]) as sy:
    registered = sy.registry.RegisterSchema(
        registry_pb2.RegisterSchemaRequest(event_type="lead.created", json_schema=schema.read_text())
    )
    print(f"schema lead.created v{registered.version}")

    emitted = sy.emit("lead.created", {"id": "lead_1", "email": "ada@example.com", "source": "web"})
    print(f"emitted {emitted.event_id}")

    try:
        sy.emit("lead.created", {"id": "lead_2", "email": 42})
    except SwitchyardError as error:
        for violation in error.violations:
            print(f"refused {violation.field}: {violation.description}")
