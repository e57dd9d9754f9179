import argparse
import os

parser = argparse.ArgumentParser("compare")
parser.add_argument("--compare_data1", type=str)
parser.add_argument("--compare_data2", type=str)
parser.add_argument("--output_compare", type=str)
args = parser.parse_args()
with open(args.compare_data1) as f:
    original = f.read().splitlines()
with open(os.path.join(args.compare_data2, "lines.txt")) as f:
    upper = f.read().splitlines()
os.makedirs(args.output_compare, exist_ok=True)
with open(os.path.join(args.output_compare, "same.txt"), "w") as f:
    f.write(str([a.upper() == b for a, b in zip(original, upper)]))
print("compared", len(original), "lines")
