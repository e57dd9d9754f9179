"""Register the example's PostgreSQL database as the datastore `immo_db`, the way Azure ML v1
code registers an Azure Database for PostgreSQL (server, database, user and password; the
PG* variables come from `postgres.py start`). The password is kept by amlocal's store and never
reaches a step: steps get query results as tables."""
import os

from amlocal.core import Datastore, Workspace

from common import DATABASE

ws = Workspace.from_config()
db = Datastore.register_azure_postgre_sql(
    ws, DATABASE, server_name=os.environ["PGHOST"], port_number=os.environ["PGPORT"],
    database_name=os.environ["PGDATABASE"], user_id=os.environ["PGUSER"],
    user_password=os.environ["PGPASSWORD"], enforce_ssl=False, overwrite=True)
print(f"registered {db.datastore_type} datastore {db.name}")
