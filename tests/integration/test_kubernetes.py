"""deploy/kubernetes/: the manifests parse, the fields that must agree do (ports, probe paths,
labels and selectors, grace periods, the config mount, the image's user), and the ConfigMap's
configuration is accepted by lux and answers the probes."""

import glob
import os
import re

import harness
import yaml_subset
from harness import Server, check, eq, get

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K8S = os.path.join(ROOT, "deploy", "kubernetes")
MANIFESTS = "the Kubernetes manifests are lux's own"


def manifests():
    docs = {}
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        with open(path) as f:
            text = f.read()
        doc = yaml_subset.load(text)
        try:
            import yaml
        except ImportError:
            yaml = None
        if yaml:
            eq(doc, yaml.safe_load(text), f"{os.path.basename(path)} as PyYAML reads it")
        docs[doc["kind"]] = doc
    return docs


def lux_conf(docs):
    return docs["ConfigMap"]["data"]["lighttpd.conf"]


def conf_setting(conf, key):
    m = re.search(r"^" + re.escape(key) + r"\s*=\s*\"?([^\"\n]*)\"?\s*$", conf, re.M)
    check(m, f"{key} not set in the ConfigMap's configuration")
    return m.group(1)


def container(docs):
    spec = docs["Deployment"]["spec"]["template"]["spec"]
    eq(len(spec["containers"]), 1, "containers in the pod")
    return spec, spec["containers"][0]


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


@harness.lux_only(MANIFESTS)
def test_manifests_listed_and_labels_select_the_pods():
    docs = manifests()
    eq(sorted(docs), ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Kustomization",
                      "PodDisruptionBudget", "Service"], "kinds")
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(K8S, "*.yaml")))
    eq(sorted(docs["Kustomization"]["resources"] + ["kustomization.yaml"]), files,
       "kustomization resources")
    dep = docs["Deployment"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    check(selects(dep["spec"]["selector"]["matchLabels"], labels), "Deployment selector")
    check(selects(docs["Service"]["spec"]["selector"], labels), "Service selector")
    eq(docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
       dep["spec"]["selector"]["matchLabels"], "PodDisruptionBudget selector")
    target = docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    eq((target["apiVersion"], target["kind"], target["name"]),
       (dep["apiVersion"], "Deployment", dep["metadata"]["name"]), "HPA target")
    hpa = docs["HorizontalPodAutoscaler"]["spec"]
    check(hpa["minReplicas"] >= 2, "one replica left during a disruption needs two or more")
    check(hpa["minReplicas"] - docs["PodDisruptionBudget"]["spec"]["maxUnavailable"] >= 1,
          "the disruption budget may take every replica down")


@harness.lux_only(MANIFESTS)
def test_ports_probes_and_config_mount_agree():
    docs = manifests()
    conf = lux_conf(docs)
    spec, c = container(docs)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    eq(list(ports.values()), [int(conf_setting(conf, "server.port"))], "containerPort")
    eq(docs["Service"]["spec"]["ports"][0]["targetPort"] in ports, True, "Service targetPort")
    health = conf_setting(conf, "server.health-url")
    for probe in ("readinessProbe", "livenessProbe"):
        eq(c[probe]["httpGet"]["path"], health, f"{probe} path")
        check(c[probe]["httpGet"]["port"] in ports, f"{probe} port names no container port")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    config_vol = [n for n, v in volumes.items()
                  if v.get("configMap", {}).get("name") == docs["ConfigMap"]["metadata"]["name"]]
    eq(len(config_vol), 1, "volumes holding the ConfigMap")
    eq(c["args"], ["-f", mounts[config_vol[0]] + "/lighttpd.conf"], "lux's -f argument")


@harness.lux_only(MANIFESTS)
def test_grace_period_covers_the_drain():
    docs = manifests()
    conf = lux_conf(docs)
    spec, c = container(docs)
    command = c["lifecycle"]["preStop"]["exec"]["command"]
    script = command[-1]
    check("kill -INT 1" in script, f"preStop does not start lux's graceful stop: {script}")
    wait = int(re.match(r"sleep (\d+);", script).group(1))
    drain = int(conf_setting(conf, "server.graceful-shutdown-timeout"))
    check(drain > 0, "server.graceful-shutdown-timeout must bound the drain")
    grace = spec["terminationGracePeriodSeconds"]
    check(wait + drain < grace <= wait + drain + 10,
          f"terminationGracePeriodSeconds {grace} does not match preStop {wait}s + drain {drain}s")


@harness.lux_only(MANIFESTS)
def test_pod_security_matches_the_image():
    docs = manifests()
    spec, c = container(docs)
    eq(spec["securityContext"]["runAsNonRoot"], True, "runAsNonRoot")
    with open(os.path.join(ROOT, "Containerfile")) as f:
        user = re.search(r"^USER\s+(\d+):(\d+)", f.read(), re.M)
    eq((spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]),
       (int(user.group(1)), int(user.group(2))), "the pod's user is the image's")
    sc = c["securityContext"]
    eq((sc["readOnlyRootFilesystem"], sc["allowPrivilegeEscalation"], sc["capabilities"]["drop"]),
       (True, False, ["ALL"]), "container securityContext")
    check(c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"],
          "resources")


@harness.lux_only(MANIFESTS)
def test_configmap_config_serves_the_probes():
    docs = manifests()
    conf = lux_conf(docs)
    health = conf_setting(conf, "server.health-url")
    conf = re.sub(r"^server\.port\s*=.*$", "server.port = @PORT@", conf, flags=re.M)
    conf = conf.replace('"/var/www/html"', '"@DOCROOT@"').replace('"/dev/stdout"',
                                                                   '"@TMP@/access.log"')
    with Server(conf, base=False, files={"index.html": "hi\n"}) as s:
        cp = harness.run_bin(["-t", "-f", s.conf_path])
        eq(cp.returncode, 0, f"lux -t of the ConfigMap's configuration ({cp.stderr.strip()})")
        eq(get(s.port, health).status, 200, "probe path")
        eq(get(s.port, "/").body, b"hi\n", "the site")


def test_yaml_subset_rejects_what_it_cannot_read():
    for bad in ("a: &anchor 1\n", "a: 'single'\n", "a:\n  b: 1\n   c: 2\n", "a: 1\na: 2\n",
                "---\na: 1\n"):
        try:
            yaml_subset.load(bad)
        except yaml_subset.YamlError:
            continue
        raise harness.TestFailure(f"accepted {bad!r}")
    eq(yaml_subset.load("a:\n  - b: 1\n    c: [1, 2]\n  - x\nd: |\n  one\n  two\n"),
       {"a": [{"b": 1, "c": [1, 2]}, "x"], "d": "one\ntwo\n"}, "a sample")
