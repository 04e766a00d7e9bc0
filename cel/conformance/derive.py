#!/usr/bin/env python3
"""Derives cel/conformance/cases.jsonl from cel-spec's conformance tests.

Usage: derive.py CEL_SPEC_CHECKOUT COMMIT > cel/conformance/cases.jsonl

Reads tests/simple/testdata/{FILES}.textproto of google/cel-spec and keeps
the tests our subset can be asked: no bindings, container or type env, and
an expected value of a kind we model (or an expected error). Each line:
{"file", "section", "name", "expr", "check", "want"} where want is the
tagged tree of tests/oracles/cel_reference.py, or ["error"].
"""
import json
import re
import subprocess
import sys

FILES = ["basic", "comparisons", "conversions", "fp_math", "integer_math",
         "lists", "logic", "macros", "parse", "plumbing", "string",
         "timestamps", "fields", "dynamic", "type_deduction"]

TOKEN = re.compile(r'\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|\[[^\]]*\]|[{}:<>,]|[^\s{}:<>,]+')


def unescape(text):
    body = text[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        n = body[i + 1]
        simple = {"n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11,
                  "\\": 92, "'": 39, '"': 34, "?": 63}
        if n in simple:
            out.append(simple[n]); i += 2
        elif n in "xX":
            out.append(int(body[i + 2:i + 4], 16)); i += 4
        elif n in "01234567":
            out.append(int(body[i + 1:i + 4], 8)); i += 4
        elif n == "u":
            out += chr(int(body[i + 2:i + 6], 16)).encode("utf-8"); i += 6
        elif n == "U":
            out += chr(int(body[i + 2:i + 10], 16)).encode("utf-8"); i += 10
        else:
            raise ValueError(text)
    return bytes(out)


def parse(tokens, i=0, end="}"):
    fields = []
    while i < len(tokens) and tokens[i] != end:
        key = tokens[i]; i += 1
        if tokens[i] == ":":
            i += 1
        if tokens[i] in ("{", "<"):
            close = "}" if tokens[i] == "{" else ">"
            value, i = parse(tokens, i + 1, close)
            i += 1
        else:
            parts = [tokens[i]]; i += 1
            while i < len(tokens) and tokens[i].startswith('"') and parts[0].startswith('"'):
                parts.append(tokens[i]); i += 1
            value = b"".join(unescape(p) for p in parts) if parts[0][0] in "\"'" else parts[0]
        fields.append((key, value))
        if i < len(tokens) and tokens[i] == ",":
            i += 1
    return fields, i


def get(fields, key):
    return [v for k, v in fields if k == key]


def value_tree(fields):
    (kind, v), = fields
    if kind == "int64_value":
        return ["int", str(int(v))]
    if kind == "uint64_value":
        return ["uint", str(int(v))]
    if kind == "double_value":
        return ["double", repr(float(v.replace("inf", "inf")))]
    if kind == "string_value":
        return ["string", v.decode("utf-8")]
    if kind == "bool_value":
        return ["bool", v == "true"]
    if kind == "null_value":
        return ["null"]
    if kind == "type_value":
        return ["type", v.decode("utf-8")]
    if kind == "list_value":
        return ["list", [value_tree(x) for x in get(v, "values")]]
    if kind == "map_value":
        return ["map", [[value_tree(get(e, "key")[0]), value_tree(get(e, "value")[0])] for e in get(v, "entries")]]
    raise KeyError(kind)


def main():
    checkout, commit = sys.argv[1], sys.argv[2]
    for name in FILES:
        text = subprocess.run(["git", "-C", checkout, "show", f"{commit}:tests/simple/testdata/{name}.textproto"],
                              capture_output=True, text=True, check=True).stdout
        tokens = [t for t in TOKEN.findall(text) if t.strip() and not t.startswith("#")]
        fields, _ = parse(tokens, 0, end=None)
        for section in get(fields, "section"):
            section_name = get(section, "name")[0].decode()
            for test in get(section, "test"):
                if get(test, "bindings") or get(test, "container") or get(test, "type_env") or get(test, "check_only"):
                    continue
                expr = get(test, "expr")[0].decode("utf-8")
                want = None
                if get(test, "eval_error"):
                    want = ["error"]
                elif get(test, "value"):
                    try:
                        want = value_tree(get(test, "value")[0])
                    except (KeyError, ValueError):
                        continue
                elif not get(test, "typed_result"):
                    want = ["bool", True]
                if want is None:
                    continue
                check = not (get(test, "disable_check") and get(test, "disable_check")[0] == "true")
                print(json.dumps({"file": f"{name}.textproto", "section": section_name,
                                  "name": get(test, "name")[0].decode(), "expr": expr,
                                  "check": check, "want": want}, ensure_ascii=False))


main()
