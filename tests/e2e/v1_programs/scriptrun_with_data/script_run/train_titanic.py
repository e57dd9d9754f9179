import argparse

from azureml.core import Dataset, Run

parser = argparse.ArgumentParser()
parser.add_argument("--input-data", type=str)
args = parser.parse_args()
run = Run.get_context()
ws = run.experiment.workspace
dataset = Dataset.get_by_id(ws, id=args.input_data)
df = dataset.to_pandas_dataframe()
again = run.input_datasets["iris"].to_pandas_dataframe()
print(df.head())
run.log("rows", len(df))
assert df.equals(again)
