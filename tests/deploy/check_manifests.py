"""Checks the Kubernetes manifests in deploy/kubernetes: parsed with PyYAML,
then the properties docs/operations.md promises, one assertion each.

    python3 tests/deploy/check_manifests.py deploy/kubernetes
Prints one line per check and exits 1 on the first failure.
"""
import pathlib
import sys
import tomllib

import yaml


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def ok(msg):
    print(f"ok: {msg}")


def docs(root):
    out = []
    for path in sorted(root.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((path, doc))
    return out


def pod_spec(doc):
    if doc["kind"] in ("Deployment", "DaemonSet", "StatefulSet"):
        return doc["spec"]["template"]["spec"]
    return None


def check_container(path, c, pod_sc, init=False):
    sc = c.get("securityContext", {})
    name = f"{path.name}:{c['name']}"
    if sc.get("allowPrivilegeEscalation") is not False:
        fail(f"{name}: allowPrivilegeEscalation must be false")
    if sc.get("readOnlyRootFilesystem") is not True:
        fail(f"{name}: readOnlyRootFilesystem must be true")
    caps = sc.get("capabilities", {})
    if caps.get("drop") != ["ALL"]:
        fail(f"{name}: must drop ALL capabilities")
    if init:
        if set(caps.get("add", [])) - {"CHOWN"}:
            fail(f"{name}: init container may add only CHOWN")
    else:
        if caps.get("add"):
            fail(f"{name}: adds capabilities")
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if uid in (None, 0) or not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))):
            fail(f"{name}: must run as a non-root uid with runAsNonRoot")
    ok(f"{name}: hardened securityContext")


def main():
    root = pathlib.Path(sys.argv[1])
    all_docs = docs(root)
    if not all_docs:
        fail("no manifests found")
    configs = {}
    for path, doc in all_docs:
        if doc.get("kind") == "ConfigMap":
            text = doc["data"]["agent.toml"]
            configs[(path.parent, doc["metadata"]["name"])] = tomllib.loads(text)
            ok(f"{path.name}: agent.toml parses as TOML")
    workloads = [(p, d) for p, d in all_docs if pod_spec(d)]
    kinds = {d["kind"] for _, d in workloads}
    if kinds != {"Deployment", "DaemonSet"}:
        fail(f"expected a sidecar Deployment and a DaemonSet, found {kinds}")
    for path, doc in workloads:
        spec = pod_spec(doc)
        pod_sc = spec.get("securityContext", {})
        if pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            fail(f"{path.name}: seccompProfile RuntimeDefault")
        if spec.get("automountServiceAccountToken") is not False:
            fail(f"{path.name}: the agent needs no service account token")
        for c in spec.get("initContainers", []):
            check_container(path, c, pod_sc, init=True)
        for c in spec["containers"]:
            check_container(path, c, pod_sc)
        agent = next(c for c in spec["containers"] if c["name"] == "fapi-agent")
        if agent["args"][:2] != ["run", "--config"]:
            fail(f"{path.name}: agent must run `fapi-agent run --config`")
        for probe in ("readinessProbe", "livenessProbe"):
            cmd = agent.get(probe, {}).get("exec", {}).get("command", [])
            if cmd[:2] != ["fapi-agent", "status"]:
                fail(f"{path.name}: {probe} must exec `fapi-agent status`")
        vols = {v["name"]: v for v in spec["volumes"]}
        secret_vols = {n for n, v in vols.items() if "secret" in v}
        for n in secret_vols:
            if vols[n]["secret"].get("defaultMode") != 0o440:
                fail(f"{path.name}: secret volume {n} must be defaultMode 0440")
        for c in spec["containers"]:
            mounted = {m["name"] for m in c.get("volumeMounts", [])}
            if c["name"] != "fapi-agent" and mounted & secret_vols:
                fail(f"{path.name}: {c['name']} mounts the credential secrets")
        cfg_name = vols["config"]["configMap"]["name"]
        cfg = configs.get((path.parent, cfg_name)) or fail(
            f"{path.name}: ConfigMap {cfg_name} not found beside it")
        agent_cfg = cfg["agent"]
        sock = agent_cfg["socket"]
        if str(pod_sc.get("fsGroup")) != agent_cfg.get("socket_group"):
            fail(f"{path.name}: socket_group must be the pod's fsGroup")
        for cname, cred in cfg["credentials"].items():
            src = cred["passphrase"]
            if src["source"] == "file" and not src.get("allow_group_read"):
                fail(f"{cname}: fsGroup Secret files are 0440: allow_group_read = true")
        if doc["kind"] == "Deployment":
            sock_vol = vols["agent-socket"]
            if sock_vol.get("emptyDir", {}).get("medium") != "Memory":
                fail("sidecar socket volume must be a memory-backed emptyDir")
            app = next(c for c in spec["containers"] if c["name"] != "fapi-agent")
            app_mounts = {m["name"] for m in app["volumeMounts"]}
            if "agent-socket" not in app_mounts:
                fail("the app must mount the socket volume")
            env = {e["name"]: e["value"] for e in app.get("env", [])}
            if env.get("FAPI_AGENT_SOCKET") != sock:
                fail("the app's FAPI_AGENT_SOCKET must be the agent's socket")
            agent_uid = agent["securityContext"]["runAsUser"]
            if env.get("FAPI_AGENT_SOCKET_OWNER") != str(agent_uid):
                fail("the app must trust the agent's uid (FAPI_AGENT_SOCKET_OWNER)")
            app_uid = app["securityContext"]["runAsUser"]
            allowed = {u for cred in cfg["credentials"].values() for r in cred.get("allow", []) for u in r.get("uids", [])}
            if app_uid not in allowed:
                fail(f"the app's uid {app_uid} has no allow rule")
            ok(f"{path.name}: app and agent share the socket; the app's uid is allowed")
        else:
            if vols["host-run"]["hostPath"]["path"] != "/run/fapi-agent":
                fail("DaemonSet socket on hostPath /run/fapi-agent")
            ok(f"{path.name}: socket on the node's /run/fapi-agent")
    print(f"all {len(all_docs)} manifests checked")


if __name__ == "__main__":
    main()
