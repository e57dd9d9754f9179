"""Serve the published plotting pipeline as a web service, send it points, save the plot it
returns.

    python client.py PIPELINE_ID [OUT.png]

The image comes back in the `image` cell of the output table as `data:image/png;base64,...`;
everything after the first comma is the PNG file, base64-encoded.
"""
import base64
import math
import sys

import requests

from amlocal.core import Workspace
from amlocal.core.webservice import Webservice
from amlocal.errors import WebserviceException
from amlocal.pipeline.core import PublishedPipeline

NAME = "scatter-plots"
pipeline_id = sys.argv[1]
target = sys.argv[2] if len(sys.argv) > 2 else "from_service.png"

ws = Workspace.from_config()
try:
    Webservice(ws, NAME).delete()
except WebserviceException:
    pass
service = Webservice.deploy_pipeline(ws, NAME, PublishedPipeline.get(ws, pipeline_id))
primary, _ = service.get_keys()
print(f"service {NAME} at {service.scoring_uri}")

spiral = [[f"{t / 4 * math.cos(t):.3f}", f"{t / 4 * math.sin(t):.3f}", "spiral"]
          for t in (i / 2 for i in range(40))]
body = {"Inputs": {"input1": {"ColumnNames": ["x", "y", "group"], "Values": spiral}},
        "GlobalParameters": {}}
answer = requests.post(service.scoring_uri, json=body, timeout=120,
                       headers={"Authorization": f"Bearer {primary}"})
if answer.status_code != 200:
    sys.exit(f"the service answered {answer.status_code}: {answer.text}")
table = answer.json()["Results"]["output1"]["value"]
row = dict(zip(table["ColumnNames"], table["Values"][0]))
header, _, payload = row["image"].partition(",")
png = base64.b64decode(payload)
if header != "data:image/png;base64" or png[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"the image cell is not a base64 PNG (starts {row['image'][:40]!r})")
with open(target, "wb") as handle:
    handle.write(png)
print(f"the service plotted {row['points']} points; "
      f"wrote {target} ({len(png)} bytes, PNG header ok)")
