#!/usr/bin/env python3
"""deploy/kubernetes agrees with berth: what berthd's Role allows is what server/kube/kube_client calls, the
gateway's port and name match across the Deployment, the Service and BERTH_GATEWAY_ADVERTISE, the
NetworkPolicy selects the label server/kube/job_spec puts on every worker pod and lets it reach berthd's
gateway port only, and berthd runs as the image's user. (No API server can run here: this reads the files.)"""
import pathlib
import re
import sys

import yaml

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
docs = []
for f in sorted((root / "deploy/kubernetes").glob("*.yaml")):
    docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
by_kind = {}
for d in docs:
    assert d.get("apiVersion") and d.get("metadata", {}).get("name"), d
    by_kind.setdefault(d["kind"], []).append(d)
problems = []
def check(cond, what):
    if not cond:
        problems.append(what)

# The Role: exactly what the executor needs.
rules = {(g, r): set(rule["verbs"]) for rule in by_kind["Role"][0]["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
check(rules.get(("batch", "jobs")) == {"create", "get", "list", "delete"}, "Role: jobs create/get/list/delete")
check(rules.get(("", "secrets")) == {"create", "get", "list", "delete"}, "Role: secrets create/get/list/delete")
check(rules.get(("", "pods")) == {"get", "list"}, "Role: pods get/list")
check(rules.get(("", "pods/log")) == {"get"}, "Role: pods/log get")
check(len(rules) == 4, "Role: nothing else")
binding = by_kind["RoleBinding"][0]
check(binding["subjects"][0]["name"] == by_kind["ServiceAccount"][0]["metadata"]["name"], "RoleBinding names the ServiceAccount")

dep = by_kind["Deployment"][0]
pod = dep["spec"]["template"]
c = pod["spec"]["containers"][0]
env = {e["name"]: e.get("value") for e in c["env"]}
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
check(pod["spec"]["serviceAccountName"] == by_kind["ServiceAccount"][0]["metadata"]["name"], "Deployment uses the ServiceAccount")
check(env.get("BERTH_EXECUTOR") == "kubernetes", "BERTH_EXECUTOR=kubernetes")
check(env.get("BERTH_GATEWAY_LISTEN", "").endswith(":%d" % ports["gateway"]), "gateway listens on its containerPort")
services = {s["metadata"]["name"]: s for s in by_kind["Service"]}
adv_host, adv_port = env.get("BERTH_GATEWAY_ADVERTISE", ":").rsplit(":", 1)
check(adv_host in services, "BERTH_GATEWAY_ADVERTISE names a Service")
gw = services.get(adv_host, {"spec": {"ports": [{}], "selector": {}}})
check(gw["spec"]["ports"][0].get("port") == int(adv_port or 0), "the advertised port is the Service's")
check(gw["spec"]["ports"][0].get("targetPort") == "gateway", "the gateway Service targets the gateway port")
check(all(pod["metadata"]["labels"].get(k) == v for k, v in gw["spec"]["selector"].items()), "the gateway Service selects berthd")

# The NetworkPolicy: worker pods (the label job_spec sets) reach berthd's gateway and DNS, nothing else.
job_spec = (root / "server/kube/job_spec.hpp").read_text()
role_label = re.search(r'worker_role_label = "([^"]+)"', job_spec).group(1)
np = by_kind["NetworkPolicy"][0]["spec"]
check(np["podSelector"]["matchLabels"] == {role_label: "worker"}, "NetworkPolicy selects %s=worker" % role_label)
check(set(np["policyTypes"]) == {"Ingress", "Egress"} and np["ingress"] == [], "no ingress to workers")
to_berthd = np["egress"][0]
check(all(pod["metadata"]["labels"].get(k) == v for k, v in to_berthd["to"][0]["podSelector"]["matchLabels"].items()), "egress to berthd's pods")
check([p["port"] for p in to_berthd["ports"]] == [ports["gateway"]], "egress to the gateway port only")
check(all(p["port"] == 53 for rule in np["egress"][1:] for p in rule["ports"]), "the only other egress is DNS")

uid = re.search(r"ARG BERTH_UID=(\d+)", (root / "Dockerfile.server").read_text()).group(1)
check(pod["spec"]["securityContext"]["runAsUser"] == int(uid), "berthd runs as the image's user")
check(c["securityContext"]["readOnlyRootFilesystem"] is True, "berthd's root is read-only")

if problems:
    print("deploy/kubernetes disagrees with berth:\n  " + "\n  ".join(problems))
    sys.exit(1)
print("deploy/kubernetes: %d objects agree with berth" % len(docs))
