#!/usr/bin/env python3
"""The medians of critest -benchmark's data files, side by side.

Usage: critest_benchmark_table.py NAME=DIR [NAME=DIR...]
Each DIR holds the *_benchmark_data.json files critest wrote
(-benchmarking-output-dir). Prints, per benchmark and operation, every side's
median in milliseconds and the first side's advantage over each other side
(their median over its median).
"""
import json
import pathlib
import statistics
import sys


def medians(directory):
    """{(benchmark, operation): median ms} for one side."""
    result = {}
    for path in sorted(pathlib.Path(directory).glob("*_benchmark_data.json")):
        data = json.loads(path.read_text())
        benchmark = path.name[: -len("_benchmark_data.json")]
        names = data.get("operationsNames") or []
        for index, name in enumerate(names):
            samples = [
                point["operationsDurationsNs"][index] / 1e6
                for point in data.get("datapoints") or []
                if len(point.get("operationsDurationsNs") or []) > index
            ]
            if samples:
                result[(benchmark, name)] = (statistics.median(samples), len(samples))
    return result


def main(argv):
    sides = [arg.split("=", 1) for arg in argv]
    if not sides or any(len(side) != 2 for side in sides):
        print(__doc__, file=sys.stderr)
        return 2
    data = {name: medians(directory) for name, directory in sides}
    keys = sorted({key for values in data.values() for key in values})
    reference = sides[0][0]
    header = f"{'benchmark / operation':<52}" + "".join(f"{name:>12}" for name, _ in sides)
    header += "".join(f"{'vs ' + name:>14}" for name, _ in sides[1:])
    print(header)
    for key in keys:
        row = f"{key[0] + ' / ' + key[1]:<52}"
        for name, _ in sides:
            value = data[name].get(key)
            row += f"{value[0]:>12.2f}" if value else f"{'-':>12}"
        ours = data[reference].get(key)
        for name, _ in sides[1:]:
            theirs = data[name].get(key)
            ratio = f"{theirs[0] / ours[0]:.2f}x" if ours and theirs and ours[0] > 0 else "-"
            row += f"{ratio:>14}"
        print(row)
    print(f"(medians of each side's samples; 'vs X': X's median over {reference}'s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
