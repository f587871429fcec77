"""The report files of a recipe run: report.md (the protocol's tables beside the paper's numbers, what data
ran, which models are missing, what the run found), results.csv, summary.json and the protocol's PNGs."""
from __future__ import annotations

import json


def _data_lines(parts):
    lines = []
    for p in parts:
        lines.append(f"- **{p.label}**: {p.note}" + (f"; data checksum {p.checksum}" if p.checksum else ""))
        missing = {m: i["missing"] for m, i in p.models.items() if i.get("missing")}
        for m, why in missing.items():
            lines.append(f"  - {m}: {why}")
        lines += [f"  - {n}" for n in p.notes]
    return lines


def first_line(recipe, parts):
    """The report's first line: where the data came from when it is not the recipe's own."""
    odd = [p for p in parts if p.status == "skipped" or "fallback" in p.note]
    if not odd:
        return f"Data: {', '.join(p.note for p in parts)}."
    return "**Data differ from the paper's:** " + "; ".join(f"{p.label}: {p.note}" for p in odd) + \
        ". Paper columns hold the paper's numbers on its own data: compare orders of magnitude, not digits."


def write_report(recipe, protocol, parts, out, *, failures=(), unavailable=()):
    """Write the report files into `out`; returns {"markdown", "plots", "summary"}."""
    import pandas as pd

    summary = protocol.summarize(recipe, parts)
    plots = protocol.figures(recipe, parts, out) if any(p.records for p in parts) else []
    done = sum(len(p.records) for p in parts)
    planned = sum(p.units_planned for p in parts)
    lines = [first_line(recipe, parts), "", f"## {recipe['id']}: {recipe['title']}", "",
             f"Paper: {recipe['paper']}. Protocol: `{recipe['protocol']}`. Seed {recipe['seed']}. "
             f"Units done: {done} of {planned}.", "", "Data and models:", ""] + _data_lines(parts) + [""]
    if summary.get("findings"):
        lines += ["**What this run found:**", ""] + [f"- {f}" for f in summary["findings"]] + [""]
    lines += summary.get("lines", []) + [""]
    if unavailable:
        lines += ["Not available in this version:", ""] + [f"- {u}" for u in unavailable] + [""]
    if failures:
        lines += [f"**{len(failures)} units failed** (not stored; a rerun retries them):", ""] + \
            [f"- {f}" for f in failures[:20]] + [""]
    lines += [f"![{f}]({f})" for f in plots]
    text = "\n".join(lines).rstrip() + "\n"
    (out / "report.md").write_text(text)
    pd.DataFrame(summary.get("rows", [])).to_csv(out / "results.csv", index=False)
    doc = {"id": recipe["id"], "title": recipe["title"], "protocol": recipe["protocol"],
           "data": [{"label": p.label, "note": p.note, "status": p.status, "checksum": p.checksum,
                     "models": p.models, "units_done": len(p.records), "units_planned": p.units_planned}
                    for p in parts],
           "findings": summary.get("findings", []), "rows": summary.get("rows", []),
           "failures": list(failures), "unavailable": list(unavailable), "plots": plots}
    (out / "summary.json").write_text(json.dumps(doc, indent=2, default=str, allow_nan=True))
    return {"markdown": text, "plots": plots, "summary": doc}
