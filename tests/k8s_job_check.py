#!/usr/bin/env python3
"""k8s_job_check.py YAML - check scripts/k8s-quantize.yaml: an Indexed Job whose command runs
tensorcast with --part (JOB_COMPLETION_INDEX + 1)/N, N equal to its completions and parallelism.
Exit 0 when it holds, 1 (with the reason) when not."""
import re
import sys

import yaml

d = yaml.safe_load(open(sys.argv[1]))
s = d["spec"]
c = s["template"]["spec"]["containers"][0]
cmd = " ".join(c.get("command", []) + c.get("args", []))
m = re.search(r"--part \$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/(\d+)", cmd)
checks = [
    (d["kind"] == "Job", "not a Job"),
    (s.get("completionMode") == "Indexed", "completionMode is not Indexed"),
    (s["completions"] == s["parallelism"], "completions != parallelism"),
    (m is not None, "no --part $((JOB_COMPLETION_INDEX + 1))/N in the command"),
    (m is not None and int(m.group(1)) == s["completions"], "N differs from completions"),
    ("tensorcast quantize" in cmd and "--split-max-size" in cmd, "not a split quantize"),
]
for ok, why in checks:
    if not ok:
        sys.exit("k8s job: " + why + ": " + cmd)
