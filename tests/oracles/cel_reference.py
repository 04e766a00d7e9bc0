#!/usr/bin/env python3
"""The reference side of the CEL differential test (tests/tests/e2e/cel.rs).

Reads JSON lines {"expr": ..., "body": ...} and answers one JSON line each,
from cel-expr-python (the cel-expr project's runtime over Google's
cel-cpp): ["compile_error", why], ["error", why], or ["value", TREE] where
TREE tags each value with its CEL type: ["int", "3"], ["uint", "3"],
["double", "1e+20"], ["string", s], ["bool", b], ["null"], ["list", [...]],
["map", [[k, v], ...]], ["timestamp", micros], ["duration", micros],
["type", name]. Variables: body (dyn), status (int), headers
(map(string, string)), now (timestamp), as ready-check declares them.
"""
import datetime
import json
import sys

from cel_expr_python import cel

ENV = cel.NewEnv(variables={
    "body": cel.Type.DYN,
    "status": cel.Type.INT,
    "headers": cel.Type.Map(cel.Type.STRING, cel.Type.STRING),
    "now": cel.Type.TIMESTAMP,
})
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
TYPE_NAMES = {
    "INT": "int", "UINT": "uint", "DOUBLE": "double", "STRING": "string",
    "BOOL": "bool", "NULL": "null_type", "TIMESTAMP": "google.protobuf.Timestamp",
    "DURATION": "google.protobuf.Duration", "TYPE": "type", "BYTES": "bytes",
}


def type_name(t):
    text = repr(t)
    for prefix, name in (("LIST", "list"), ("MAP", "map")):
        if text.startswith(prefix):
            return name
    return TYPE_NAMES.get(text, text)


def tree(value, cel_type=None):
    if isinstance(value, cel.Value):
        return tree(value.value(), type_name(value.type()))
    if cel_type == "type" or isinstance(value, cel.Type):
        return ["type", type_name(value)]
    if value is None:
        return ["null"]
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["uint" if cel_type == "uint" else "int", str(value)]
    if isinstance(value, float):
        return ["double", repr(value)]
    if isinstance(value, str):
        return ["string", value]
    if isinstance(value, datetime.datetime):
        return ["timestamp", (value - EPOCH) // datetime.timedelta(microseconds=1)]
    if isinstance(value, datetime.timedelta):
        return ["duration", value // datetime.timedelta(microseconds=1)]
    if hasattr(value, "keys"):
        return ["map", [[tree(k), tree(value[k])] for k in value.keys()]]
    if hasattr(value, "__len__"):
        return ["list", [tree(value[i]) for i in range(len(value))]]
    return ["unknown", repr(value)]


def as_json_numbers(value):
    """CEL's JSON mapping (and blackbox's cel-go): every JSON number is a double."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [as_json_numbers(v) for v in value]
    return {k: as_json_numbers(v) for k, v in value.items()}


def answer(case):
    try:
        program = ENV.compile(case["expr"])
    except Exception as e:  # noqa: BLE001 - any refusal is the answer
        return ["compile_error", str(e).split("\n")[0]]
    try:
        now = EPOCH + datetime.timedelta(seconds=case.get("now", 1_800_000_000))
        result = program.eval(ENV.Activation({
            "body": as_json_numbers(case["body"]), "status": case.get("status", 200),
            "headers": case.get("headers", {}), "now": now,
        }))
    except Exception as e:  # noqa: BLE001
        return ["error", str(e).split("\n")[0]]
    if repr(result.type()) == "ERROR":
        return ["error", str(result.value())]
    return ["value", tree(result)]


for line in sys.stdin:
    print(json.dumps(answer(json.loads(line))), flush=True)
