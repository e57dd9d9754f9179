"""Ask the service for prices, as any HTTP client would.

    python client.py 25 60 110

Reads the scoring URI and key that deploy.py wrote to service.json and posts Studio's classic
request body."""
import json
import sys

import requests

with open("service.json") as handle:
    service = json.load(handle)
surfaces = sys.argv[1:] or ["25"]
body = {"Inputs": {"input1": {"ColumnNames": ["surface"], "Values": [[s] for s in surfaces]}},
        "GlobalParameters": {}}
answer = requests.post(service["scoring_uri"], json=body, timeout=120,
                       headers={"Authorization": f"Bearer {service['key']}"})
if answer.status_code != 200:
    sys.exit(f"the service answered {answer.status_code}: {answer.text}")
table = answer.json()["Results"]["output1"]["value"]
for values in table["Values"]:
    row = dict(zip(table["ColumnNames"], values))
    print(f"{float(row['surface']):g} m2 -> predicted price {float(row['price']):,.0f} "
          f"(model trained on {int(row['model_flats'])} listings)")
