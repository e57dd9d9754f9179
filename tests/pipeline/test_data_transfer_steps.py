"""DataTransferStep between container steps, on a real PostgreSQL: a step's output into a table,
the table out to a datastore path a later container step reads (through ``get_output()``), and
the database password in no step's environment, log or run record."""
from __future__ import annotations

import json
import textwrap
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")


def test_container_output_into_a_table_and_back_out_without_credentials(workspace, postgres_url,
                                                                          tmp_path):
    from amlocal._status import PIPELINE_LOG
    from amlocal.core import Datastore
    from amlocal.data.data_reference import DataReference
    from amlocal.data.output_dataset_config import OutputFileDatasetConfig
    from amlocal.data.sql_data_reference import SqlDataReference
    from amlocal.datastores.sql import read_query
    from amlocal.pipeline.core import Pipeline
    from amlocal.pipeline.steps import DataTransferStep, PythonScriptStep

    password = urlparse(postgres_url).password
    assert password
    db = Datastore.register_sql(workspace, "db", postgres_url)
    src = tmp_path / "src"
    src.mkdir()
    (src / "produce.py").write_text(textwrap.dedent("""
        import os, sys
        os.makedirs(sys.argv[1], exist_ok=True)
        with open(os.path.join(sys.argv[1], "rows.csv"), "w") as f:
            f.write("n,word\\n2,two\\n1,one\\n3,three\\n")
        print("ENV", sorted(os.environ.items()))
    """))
    (src / "consume.py").write_text(textwrap.dedent("""
        import csv, os, sys
        print("FILES", sorted(os.listdir(sys.argv[1])))
        with open(os.path.join(sys.argv[1], "words.csv")) as f:
            print("ROWS", [(r["n"], r["word"]) for r in csv.DictReader(f)])
        print("ENV", sorted(os.environ.items()))
    """))
    made = OutputFileDatasetConfig("made")
    produce = PythonScriptStep("produce.py", name="produce", arguments=[made],
                               source_directory=str(src))
    load = DataTransferStep("load", source_data_reference=made,
                            destination_data_reference=SqlDataReference(db, sql_table="words"))
    store = workspace.get_default_datastore()
    export = DataTransferStep(
        "export", source_data_reference=SqlDataReference(db, sql_query="SELECT n, word FROM words "
                                                                       "ORDER BY n"),
        destination_data_reference=DataReference(store, path_on_datastore="exports/words.csv"))
    export.run_after(load)
    exported = export.get_output()
    consume = PythonScriptStep("consume.py", name="consume", arguments=[exported],
                               inputs=[exported], source_directory=str(src))
    run = Pipeline(workspace, [produce, load, export, consume]).submit("transfer-containers")
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Finished", \
        run._store.read_artifact(run.id, PIPELINE_LOG).decode()[-3000:]
    steps = {s.name: s for s in run.get_steps()}
    assert "ROWS [('1', 'one'), ('2', 'two'), ('3', 'three')]" in steps["consume"].get_job_log()
    assert "appended 3 row(s): table 'words' on SQL datastore 'db'" in steps["load"].get_job_log()
    assert read_query(db._info, "SELECT count(*) AS n FROM words")["n"][0] == 3
    # the export step waited for the load (run_after) and the consumer for the export (data)
    graph = {n["name"]: n for n in run.get_graph()["steps"]}
    assert graph["load"]["depends_on"] == ["produce"] and graph["consume"]["depends_on"] == ["export"]
    assert graph["load"]["kind"] == "data_transfer" and graph["load"]["compute"]["kind"] == "host"

    # the password is nowhere a step or a reader of the run could see it
    assert password not in json.dumps(run.get_graph())
    assert password not in run._store.read_artifact(run.id, PIPELINE_LOG).decode()
    for step in steps.values():
        assert password not in step.get_job_log()
        assert password not in json.dumps(step._store.get_run(step.id).definition, default=str)
        assert password not in json.dumps(step.get_details(), default=str)
    assert "ENV" in steps["consume"].get_job_log() and "ENV" in steps["produce"].get_job_log()
