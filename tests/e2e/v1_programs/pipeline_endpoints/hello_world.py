import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--arg1", type=int)
args = parser.parse_args()
print("Hello World! pipeline_arg is", args.arg1)
