#!/usr/bin/env python3
"""Checks of deploy/ that need more than a shell: run by .ci/check-packaging.

  packaging_checks.py dashboard   deploy/grafana/ccgw-dashboard.json
  packaging_checks.py compose     deploy/docker-compose.yml against deploy/prometheus.yml (skipped without PyYAML)

Exits 1 with one line per problem. Standard library only, and PyYAML for compose if it is there.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DASHBOARD = os.path.join(ROOT, "deploy/grafana/ccgw-dashboard.json")
METRICS_GO = os.path.join(ROOT, "internal/metrics/metrics.go")
ALERTS = os.path.join(ROOT, "deploy/prometheus/ccgw-alerts.yml")
DS_UID = "${DS_PROMETHEUS}"

# What client_golang's Go and process collectors (cmd/ccgw registers both)
# expose, as scraped from ccgw built with client_golang v1.25.
COLLECTOR_METRICS = set("""
go_gc_duration_seconds go_gc_gogc_percent go_gc_gomemlimit_bytes go_goroutines go_info
go_memstats_alloc_bytes go_memstats_alloc_bytes_total go_memstats_buck_hash_sys_bytes
go_memstats_frees_total go_memstats_gc_sys_bytes go_memstats_heap_alloc_bytes
go_memstats_heap_idle_bytes go_memstats_heap_inuse_bytes go_memstats_heap_objects
go_memstats_heap_released_bytes go_memstats_heap_sys_bytes go_memstats_last_gc_time_seconds
go_memstats_mallocs_total go_memstats_mcache_inuse_bytes go_memstats_mcache_sys_bytes
go_memstats_mspan_inuse_bytes go_memstats_mspan_sys_bytes go_memstats_next_gc_bytes
go_memstats_other_sys_bytes go_memstats_stack_inuse_bytes go_memstats_stack_sys_bytes
go_memstats_sys_bytes go_sched_gomaxprocs_threads go_threads
process_cpu_seconds_total process_max_fds process_network_receive_bytes_total
process_network_transmit_bytes_total process_open_fds process_resident_memory_bytes
process_start_time_seconds process_virtual_memory_bytes process_virtual_memory_max_bytes
""".split())

# Metrics the dashboard shows that other work adds; until then their panels
# show "No data", and this check says so without failing.
PENDING = {}

# The Go runtime and process panels the dashboard must keep.
REQUIRED_OTHER = {"process_resident_memory_bytes", "process_open_fds", "go_memstats_heap_alloc_bytes",
                  "go_gc_duration_seconds", "process_cpu_seconds_total", "go_goroutines"}

SUFFIXES = ("_bucket", "_count", "_sum")
NAME = re.compile(r"\b(?:ccgw|go|process)_[a-zA-Z0-9_]*[a-zA-Z0-9]")


def go_sources():
    for d, dirs, files in os.walk(ROOT):
        dirs[:] = [x for x in dirs if not x.startswith(".") and x not in ("e2e", "deploy", "docs")]
        for f in files:
            if f.endswith(".go") and not f.endswith("_test.go"):
                yield os.path.join(d, f)


def names_in_go(paths):
    names = set()
    for p in paths:
        with open(p, encoding="utf-8") as fh:
            names |= set(re.findall(r'"(ccgw_[a-z0-9_]+)"', fh.read()))
    return names


def base(name, known):
    if name in known:
        return name
    for s in SUFFIXES:
        if name.endswith(s) and name[: -len(s)] in known:
            return name[: -len(s)]
    return name


def panels_of(dash):
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])  # a collapsed row keeps its panels


def promql(expr):
    """expr with the dashboard's variables replaced, so promtool can parse it."""
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", ".*", expr)


def check_dashboard():
    problems, notes = [], []
    try:
        with open(DASHBOARD, encoding="utf-8") as fh:
            dash = json.load(fh)
    except (OSError, ValueError) as e:
        return [f"{DASHBOARD}: {e}"], notes

    if dash.get("schemaVersion", 0) < 36:
        problems.append(f"schemaVersion {dash.get('schemaVersion')}: want 36 or more")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("DS_PROMETHEUS")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no datasource variable DS_PROMETHEUS of type prometheus")

    in_code = names_in_go(go_sources())
    with open(METRICS_GO, encoding="utf-8") as fh:
        in_metrics_go = set(re.findall(r'"(ccgw_[a-z0-9_]+)"', fh.read()))
    known = in_code | COLLECTOR_METRICS | {"up"}

    used, exprs, ids = set(), [], set()
    for p in panels_of(dash):
        title = p.get("title", "?")
        pid = p.get("id")
        if pid in ids:
            problems.append(f"panel {title!r}: id {pid} used twice")
        ids.add(pid)
        if "gridPos" not in p:
            problems.append(f"panel {title!r}: no gridPos")
        if p.get("type") == "row":
            continue
        if (p.get("datasource") or {}).get("uid") != DS_UID:
            problems.append(f"panel {title!r}: datasource is not {DS_UID}")
        targets = p.get("targets") or []
        if not targets:
            problems.append(f"panel {title!r}: no query")
        for t in targets:
            if (t.get("datasource") or {}).get("uid") != DS_UID:
                problems.append(f"panel {title!r} query {t.get('refId')}: datasource is not {DS_UID}")
            expr = t.get("expr", "")
            if not expr.strip():
                problems.append(f"panel {title!r} query {t.get('refId')}: empty expr")
                continue
            exprs.append((title, expr))
            for n in NAME.findall(expr):
                b = base(n, known | set(PENDING))
                used.add(b)
                if b in PENDING and b not in in_code:
                    notes.append(f"{b} ({PENDING[b]}) is not exported by the code yet: that panel shows no data")
                elif b not in known:
                    problems.append(f"panel {title!r}: {n} is neither in the code nor a Go/process collector metric")
    for q in ("job", "instance", "method"):
        v = variables.get(q)
        if v:
            for n in NAME.findall(json.dumps(v.get("query"))):
                if base(n, known) not in known:
                    problems.append(f"variable {q}: {n} is not a known metric")

    for n in sorted(in_metrics_go - used):
        problems.append(f"{n} (internal/metrics/metrics.go) has no panel")
    for n in sorted(REQUIRED_OTHER - used):
        problems.append(f"{n} has no panel")

    # The alert rules may only name metrics that exist too.
    with open(ALERTS, encoding="utf-8") as fh:
        for n in set(NAME.findall(fh.read())):
            if base(n, known) not in known:
                problems.append(f"{os.path.relpath(ALERTS, ROOT)}: {n} is not a known metric")

    # Every query parses as PromQL: promtool checks them as recording rules.
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
        fh.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, (_, expr) in enumerate(exprs):
            fh.write(f"      - record: dashboard:query{i}\n        expr: {json.dumps(promql(expr))}\n")
        rules = fh.name
    try:
        r = subprocess.run(["promtool", "check", "rules", rules], capture_output=True, text=True)
        if r.returncode != 0:
            problems.append("a query does not parse as PromQL:\n" + r.stdout + r.stderr)
    finally:
        os.unlink(rules)

    if not problems:
        panels = sum(1 for p in panels_of(dash) if p.get("type") != "row")
        notes.append(f"dashboard: {panels} panels, {len(exprs)} queries over {len(used)} metrics; "
                     "every metric exists, every query parses")
    return problems, notes


def flag(cmd, name):
    return cmd[cmd.index(name) + 1] if name in cmd and cmd.index(name) + 1 < len(cmd) else None


def check_compose():
    problems, notes = [], []
    try:
        import yaml
    except ImportError:
        notes.append("no PyYAML for this python3: compose file not checked against prometheus.yml")
        return problems, notes
    with open(os.path.join(ROOT, "deploy/docker-compose.yml"), encoding="utf-8") as fh:
        compose = yaml.safe_load(fh)
    with open(os.path.join(ROOT, "deploy/prometheus.yml"), encoding="utf-8") as fh:
        prom = yaml.safe_load(fh)
    services = compose.get("services", {})
    nodes = {k: v for k, v in services.items() if k.startswith("ccgw")}
    if len(nodes) != 3:
        problems.append(f"want 3 ccgw services, have {sorted(nodes)}")
    if "redis" not in services or "prometheus" not in services:
        problems.append("want services redis and prometheus")
    names, stores, published = set(), set(), set()
    for k, v in nodes.items():
        cmd = v.get("command") or []
        for f, want in (("--addr", "0.0.0.0:8043"), ("--admin-addr", "0.0.0.0:8044"),
                        ("--admin-token-env", "CCGW_ADMIN_TOKEN"), ("--data", "/data")):
            if flag(cmd, f) != want:
                problems.append(f"{k}: {f} {flag(cmd, f)!r}, want {want}")
        names.add(flag(cmd, "--node-name"))
        stores.add(flag(cmd, "--store"))
        if "CCGW_ADMIN_TOKEN" not in (v.get("environment") or {}):
            problems.append(f"{k}: CCGW_ADMIN_TOKEN not in its environment")
        for port in v.get("ports") or []:
            published.add(str(port).rsplit(":", 2)[-2] if str(port).count(":") else str(port))
    if len(names) != len(nodes) or None in names:
        problems.append(f"every node needs its own --node-name: {sorted(map(str, names))}")
    if stores != {"redis://redis:6379/0"}:
        problems.append(f"--store differs or is missing: {sorted(map(str, stores))}")
    for want in ("8043", "8143", "8243"):
        if want not in published:
            problems.append(f"host port {want} not published")
    rcmd = " ".join(services.get("redis", {}).get("command") or [])
    if "--appendonly yes" not in rcmd:
        problems.append("redis runs without --appendonly yes")
    if "redis-cli ping" not in " ".join(services.get("redis", {}).get("healthcheck", {}).get("test", [])):
        problems.append("redis has no redis-cli ping healthcheck")

    jobs = {j["job_name"]: j for j in prom.get("scrape_configs", [])}
    job = jobs.get("ccgw")
    if not job:
        problems.append("prometheus.yml: no job ccgw")
    else:
        targets = {t for sc in job.get("static_configs", []) for t in sc.get("targets", [])}
        if targets != {f"{k}:8044" for k in nodes}:
            problems.append(f"prometheus.yml: targets {sorted(targets)} are not the nodes' admin ports")
        cred = (job.get("authorization") or {}).get("credentials_file", "")
        secrets = services.get("prometheus", {}).get("secrets") or []
        if not any(cred == f"/run/secrets/{s if isinstance(s, str) else s.get('source')}" for s in secrets):
            problems.append(f"prometheus.yml: credentials_file {cred} is not a secret of the prometheus service")
    if not problems:
        notes.append(f"compose: {len(services)} services; nodes {sorted(map(str, names))} on {sorted(map(str, stores))}; "
                     "Prometheus scrapes each admin port with the token secret")
    return problems, notes


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    checks = {"dashboard": check_dashboard, "compose": check_compose}
    if what not in checks:
        print(__doc__, file=sys.stderr)
        return 2
    problems, notes = checks[what]()
    for n in dict.fromkeys(notes):
        print(f"  {n}")
    for p in problems:
        print(f"  FAIL {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
