"""Train the apartment-price model on every listing of the `immo` table and append it to the
`immo_model` table.

    python train_pipeline.py

Three steps' worth of Studio's training experiment, as one pipeline:
1. the listings, read by a query (Dataset.Tabular.from_sql_query: the runner runs the query
   when the step starts and hands the step the rows; the step never sees the database);
2. src/train.py in an Execute Python Script step: fit `price ~ surface`, return one row (the
   pickled model, its coefficients, R^2, flag_use, when it was made);
3. a DataTransferStep appending that row to `immo_model` (created on the first run).
"""
import sys

from amlocal.core import Dataset, Experiment
from amlocal.data.sql_data_reference import SqlDataReference
from amlocal.pipeline.core import Pipeline
from amlocal.pipeline.steps import DataTransferStep, ExecutePythonScriptStep

from common import setting

ws, cluster, run_config, db = setting()
listings = Dataset.Tabular.from_sql_query((db, "SELECT surface, price FROM immo"),
                                          query_timeout=60)
# the query runs every time the pipeline runs; the fit is reused only while it answers the same
# rows (new listings in `immo` make a new fit, and so a new row in `immo_model`)
fit = ExecutePythonScriptStep("src/train.py", dataframe1=listings, name="fit",
                              runconfig=run_config, compute_target=cluster)
keep = DataTransferStep("store model", source_data_reference=fit.result_dataset,
                        destination_data_reference=SqlDataReference(db, sql_table="immo_model"),
                        compute_target="data-factory")
run = Experiment(ws, "immo-sql-training").submit(Pipeline(workspace=ws, steps=[fit, keep]))
if run.wait_for_completion(show_output=True, raise_on_error=False) != "Finished":
    sys.exit(f"training run {run.id} failed; see `amlocal run logs {run.id}`")
models = Dataset.Tabular.from_sql_query(
    (db, "SELECT id, flats, round(coef::numeric, 1) AS coef, round(r2::numeric, 4) AS r2, "
         "flag_use FROM (SELECT row_number() OVER (ORDER BY created) AS id, * FROM immo_model) "
         "AS m ORDER BY id")).to_pandas_dataframe()
print("immo_model now holds:")
print(models.to_string(index=False))
