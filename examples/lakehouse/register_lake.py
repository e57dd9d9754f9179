"""Register the Azure Blob container 'lake' (on Azurite here) as a datastore and upload the raw
data. On Azure you would give your storage account's name and key (or a SAS token) instead.

Usage: python register_lake.py RAW_DIR [BLOB_ENDPOINT]
"""
import sys

from amlocal.core import Datastore, Workspace

# Azurite's development account: public, well-known credentials (never a real secret).
ACCOUNT = "devstoreaccount1"
KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")

raw = sys.argv[1]
endpoint = sys.argv[2] if len(sys.argv) > 2 else f"http://127.0.0.1:10000/{ACCOUNT}"
ws = Workspace.from_config()
lake = Datastore.register_azure_blob_container(
    workspace=ws, datastore_name="lake", container_name="lake", account_name=ACCOUNT,
    account_key=KEY, endpoint=endpoint, create_if_not_exists=True, overwrite=True)
lake.upload(src_dir=raw, target_path="raw", overwrite=True, show_progress=False)
print(f"registered {lake.name} ({lake.datastore_type}) and uploaded {raw}")
