#!/usr/bin/env python3
"""Rewrite a recorded text 0.0.4 body as OpenMetrics 1.0.

The recorded node_exporter (Debian 1.5.0) cannot negotiate OpenMetrics, so the .om body is
derived from the .prom one the way client_golang's OpenMetrics encoder would write it:
counter families lose `_total` (their samples keep it), `untyped` becomes `unknown`, HELP text
is re-escaped with `\\"`, and the body ends with `# EOF`. Sample lines are kept byte for byte.

Usage: to_openmetrics.py < node_exporter.prom > node_exporter.om
"""
import sys


def decode_help(text):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "\\n":
            out.append("\\" if text[i + 1] == "\\" else "\n")
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def encode_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


families = []  # [name, help, type, [sample lines]]
by_name = {}
for line in sys.stdin.read().split("\n"):
    if not line:
        continue
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        _, kw, name, *rest = line.split(" ", 3)
        fam = by_name.get(name)
        if fam is None:
            fam = by_name[name] = [name, None, "untyped", []]
            families.append(fam)
        if kw == "HELP":
            fam[1] = decode_help(rest[0] if rest else "")
        else:
            fam[2] = rest[0]
        continue
    families[-1][3].append(line)

out = []
for name, help_text, kind, samples in families:
    fam_name = name
    if kind == "counter":
        if name.endswith("_total"):
            fam_name = name[: -len("_total")]
        else:
            samples = [name + "_total" + s[len(name):] for s in samples]
    if kind == "untyped":
        kind = "unknown"
    out.append(f"# TYPE {fam_name} {kind}")
    if help_text:
        out.append(f"# HELP {fam_name} {encode_help(help_text)}")
    out.extend(samples)
out.append("# EOF")
sys.stdout.write("\n".join(out) + "\n")
