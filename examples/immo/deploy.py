"""Publish the scoring pipeline for the latest registered model and serve it as a web service
(replacing the running one); write its scoring URI and primary key to service.json for client.py.

The pipeline is Studio's scoring experiment: a web service input (its example frame fixes the
schema: one float column `surface`) and the registered model table feed src/score.py, whose
result is the web service output.
"""
import json

import pandas as pd

from amlocal.core import Dataset
from amlocal.core.webservice import Webservice
from amlocal.errors import WebserviceException
from amlocal.pipeline.core import Pipeline, WebServiceInput, WebServiceOutput
from amlocal.pipeline.steps import ExecutePythonScriptStep

from common import SERVICE, setting

ws, cluster, run_config = setting()
model = Dataset.get_by_name(ws, "immo_model")

surfaces = WebServiceInput("input1", example=pd.DataFrame({"surface": [25.0, 60.0, 110.0]}))
score = ExecutePythonScriptStep("src/score.py", dataframe1=surfaces, dataframe2=model,
                                name="score", runconfig=run_config, compute_target=cluster)
pipeline = Pipeline(workspace=ws, steps=[
    score, WebServiceOutput("output1", source=score.result_dataset)])
published = pipeline.publish(
    name="immo-scoring", description=f"apartment prices with immo_model version {model.version}")

try:
    Webservice(ws, SERVICE).delete()
    print(f"deleted the previous {SERVICE} service")
except WebserviceException:
    pass
service = Webservice.deploy_pipeline(ws, SERVICE, published)
primary, _ = service.get_keys()
with open("service.json", "w") as handle:
    json.dump({"scoring_uri": service.scoring_uri, "key": primary}, handle)
print(f"service {SERVICE} serves immo_model version {model.version} at {service.scoring_uri}")
