"""deploy/kubernetes/ against the Kubernetes API schemas: the OpenAPI schemas the npm package
kubernetes-models carries (`tools/deps.sh test` installs it into tests/kubernetes/), checked by
tests/kubernetes/validate.mjs with node. test_kubernetes.py checks the fields that must agree."""

import copy
import glob
import json
import os
import shutil
import subprocess

import harness
import yaml_subset
from harness import check, contains, eq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMAS = os.path.join(ROOT, "tests", "kubernetes")
MANIFESTS = "the Kubernetes manifests are lux's own"


def api_objects():
    objs = []
    for path in sorted(glob.glob(os.path.join(ROOT, "deploy", "kubernetes", "*.yaml"))):
        with open(path) as f:
            obj = yaml_subset.load(f.read())
        if obj["kind"] != "Kustomization":  # kustomize's own file, not an API object
            objs.append(obj)
    return objs


def validate(objs):
    if not shutil.which("node"):
        raise harness.Skip("node is not installed")
    if not os.path.isdir(os.path.join(SCHEMAS, "node_modules", "kubernetes-models")):
        raise harness.Skip("kubernetes-models is not installed (tools/deps.sh test)")
    cp = subprocess.run(["node", os.path.join(SCHEMAS, "validate.mjs")], input=json.dumps(objs),
                        capture_output=True, text=True, timeout=120, cwd=SCHEMAS)
    return cp.returncode, cp.stdout.splitlines(), cp.stderr


@harness.lux_only(MANIFESTS)
def test_manifests_match_the_kubernetes_schemas():
    objs = api_objects()
    rc, lines, err = validate(objs)
    eq(lines, [f"ok {o['kind']} {o['metadata']['name']}" for o in objs],
       f"schema validation ({err.strip()[-400:]})")
    eq(rc, 0, "validate.mjs exit status")


@harness.lux_only(MANIFESTS)
def test_schema_validation_finds_mistakes():
    deployment = [o for o in api_objects() if o["kind"] == "Deployment"][0]
    bad_port = copy.deepcopy(deployment)
    bad_port["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8080"
    no_name = copy.deepcopy(deployment)
    del no_name["spec"]["template"]["spec"]["containers"][0]["name"]
    unknown = {"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"name": "x"}}
    rc, lines, _ = validate([bad_port, no_name, unknown])
    eq(rc, 1, "validate.mjs exit status")
    eq(len(lines), 3, f"one line per object: {lines}")
    contains(lines[0], "containerPort must be integer", "a port given as a string")
    check(lines[1].startswith("invalid Deployment lux: ") and "name" in lines[1],
          f"a container without a name: {lines[1]}")
    contains(lines[2], "no schema for extensions/v1beta1 Ingress", "an unknown kind")
