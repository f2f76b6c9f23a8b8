"""The example runs as a reader would run it, against the live stack."""

import re
import subprocess
import sys

from conftest import REPOSITORY


def test_lead_created_prints_the_event_id_and_the_violations():
    script = REPOSITORY / "clients/python/examples/lead_created.py"
    output = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"^schema lead\.created v\d+$", output, re.M), output
    assert re.search(r"^emitted evt_\w+$", output, re.M), output
    assert re.search(r"^refused payload_json/email: .+$", output, re.M), output
