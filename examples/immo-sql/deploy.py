"""Publish the scoring pipeline and serve it as a web service (replacing the running one);
write its scoring URI and key to service.json for client.py.

The scoring step reads the newest usable model by query (`flag_use` true, newest `created`
first). The query runs when the service starts (its workers are prepared then), so after a
retraining the service is deployed again to answer with the new model.
"""
import json

import pandas as pd

from amlocal.core import Dataset
from amlocal.core.webservice import Webservice
from amlocal.errors import WebserviceException
from amlocal.pipeline.core import Pipeline, WebServiceInput, WebServiceOutput
from amlocal.pipeline.steps import ExecutePythonScriptStep

from common import SERVICE, setting

LATEST_USABLE = ("SELECT model, flats, created FROM immo_model WHERE flag_use "
                 "ORDER BY created DESC LIMIT 1")

ws, cluster, run_config, db = setting()
model = Dataset.Tabular.from_sql_query((db, LATEST_USABLE))
surfaces = WebServiceInput("input1", example=pd.DataFrame({"surface": [25.0, 60.0, 110.0]}))
score = ExecutePythonScriptStep("src/score.py", dataframe1=surfaces, dataframe2=model,
                                name="score", runconfig=run_config, compute_target=cluster)
pipeline = Pipeline(workspace=ws, steps=[
    score, WebServiceOutput("output1", source=score.result_dataset)])
published = pipeline.publish(name="immo-sql-scoring",
                             description="apartment prices with the latest usable immo_model row")
try:
    Webservice(ws, SERVICE).delete()
    print(f"deleted the previous {SERVICE} service")
except WebserviceException:
    pass
service = Webservice.deploy_pipeline(ws, SERVICE, published)
primary, _ = service.get_keys()
with open("service.json", "w") as handle:
    json.dump({"scoring_uri": service.scoring_uri, "key": primary}, handle)
print(f"service {SERVICE} at {service.scoring_uri}")
