import argparse
import os

parser = argparse.ArgumentParser("train")
parser.add_argument("--input_data", type=str)
parser.add_argument("--output_train", type=str)
args = parser.parse_args()
print("Argument 1: %s" % args.input_data)
print("Argument 2: %s" % args.output_train)
import six  # noqa: F401 - declared as a conda package
with open(args.input_data) as f:
    lines = f.read().splitlines()
os.makedirs(args.output_train, exist_ok=True)
with open(os.path.join(args.output_train, "lines.txt"), "w") as f:
    f.write("\n".join(line.upper() for line in lines))
