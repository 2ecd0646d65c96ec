#!/usr/bin/env python3
"""Assertions of scripts/k8s-check.sh on what the chart renders and what a release creates.

Standard library only: the objects come as JSON from the API server (a server-side dry run
or `kubectl get -o json`), so no YAML parser is needed.

  k8s_check.py render SPEC.json   objects of `helm template | kubectl apply --dry-run=server`
  k8s_check.py live SPEC.json     objects of an installed release (`kubectl get -o json`)
  k8s_check.py split IN OUT_MAIN OUT_OTHER KIND[,KIND]   split a rendered stream by kind

SPEC.json names the files and what to expect (see scripts/k8s-check.sh). Prints one line
per assertion ("ok - ..." or "FAIL - ...") and, last, "RESULT <passed> <failed>".
"""

import json
import re
import sys

PASSED = 0
FAILED = 0


def check(cond, msg, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"ok - {msg}")
    else:
        FAILED += 1
        print(f"FAIL - {msg}" + (f": {detail}" if detail else ""))
    return cond


def load_objects(path):
    with open(path) as f:
        text = f.read().strip()
    if not text:
        return []
    objs = []
    dec = json.JSONDecoder()
    i = 0
    while i < len(text):  # kubectl may print several JSON documents back to back
        obj, j = dec.raw_decode(text, i)
        objs.append(obj)
        i = j
        while i < len(text) and text[i].isspace():
            i += 1
    out = []
    for o in objs:
        if o.get("kind", "").endswith("List") and "items" in o:
            out.extend(o["items"])
        else:
            out.append(o)
    return out


def by_kind(objs, kind):
    return [o for o in objs if o.get("kind") == kind]


def ann(o):
    return o.get("metadata", {}).get("annotations") or {}


def labels(o):
    return o.get("metadata", {}).get("labels") or {}


def component(o):
    return labels(o).get("app.kubernetes.io/component")


def pod_spec(o):
    return o["spec"]["template"]["spec"]


def env_of(container):
    return {e["name"]: e for e in container.get("env") or []}


def secret_ref(env_entry):
    return ((env_entry or {}).get("valueFrom") or {}).get("secretKeyRef")


# -- requests and the function each must reach: every operation of the functions' OpenAPI
# document (`api_routes`), and these, which it does not describe ------------------------
ROUTES = [
    # The MCP transport's other methods reach the server, which answers them itself.
    ("GET", "/mcp", "mcp"),
    # The web app's pages and files.
    ("GET", "/", "web"),
    ("GET", "/chat", "web"),
    ("HEAD", "/settings", "web"),
    ("GET", "/assets/index-3f2a.js", "web"),
    ("GET", "/config.json", "web"),
    ("GET", "/docs", "web"),
    ("GET", "/docs/openapi.json", "web"),
    # Only the sidecar may call these: the gateway must not route them anywhere.
    ("POST", "/events/audit", None),
    ("POST", "/events/on-completed", None),
    ("POST", "/reminder-cron", None),
    ("POST", "/job/reminder-1", None),
    ("GET", "/dapr/subscribe", None),
    ("GET", "/healthz", None),
    # Each function's own document; the whole API's is the docs page's (/docs/openapi.json).
    ("GET", "/openapi.json", None),
    ("DELETE", "/api/alice/tasks", None),
    ("GET", "/api/alice/tasks/1/2/3", None),
    ("GET", "/api/alice/stream/x", None),
    ("POST", "/", None),
    ("GET", "/assets/a/b.js", None),
]


def api_routes(openapi_path, functions):
    """(method, path, function) for every operation of the OpenAPI document whose tag is a
    function (each function's own /healthz, /readyz and /openapi.json are tagged otherwise);
    path parameters become sample segments."""
    doc = json.load(open(openapi_path))
    out = []
    for path, ops in doc["paths"].items():
        sample = re.sub(r"\{user_id\}", "alice", path)
        sample = re.sub(r"\{[^}/]+\}", "7f3c", sample)
        for method, op in ops.items():
            tags = [t for t in op.get("tags", []) if t in functions]
            if tags:
                out.append((method.upper(), sample, tags[0]))
    return out


def route_target(route, fullname_prefix, hosts, method, path):
    """The functions a request matches (a list: exactly one is expected)."""
    hits = []
    for rule in route["spec"].get("rules", []):
        matched = False
        for m in rule.get("matches", []):
            p = m.get("path", {"type": "PathPrefix", "value": "/"})
            if m.get("method") and m["method"] != method:
                continue
            t, v = p.get("type"), p.get("value")
            if t == "RegularExpression" and re.fullmatch(v, path):
                matched = True
            elif t == "Exact" and v == path:
                matched = True
            elif t == "PathPrefix" and (path == v or path.startswith(v.rstrip("/") + "/")):
                matched = True
        if not matched:
            continue
        target = None
        for f in rule.get("filters", []) or []:
            if f.get("type") == "URLRewrite":
                target = hosts.get((f.get("urlRewrite") or {}).get("hostname"))
        if target is None:
            for b in rule.get("backendRefs", []):
                name = b.get("name", "")
                if name.startswith(fullname_prefix):
                    target = name[len(fullname_prefix):]
        hits.append(target or "?")
    return hits


def strip_names(sub):
    return {
        "name": sub["metadata"]["name"],
        "pubsubname": sub["spec"].get("pubsubname"),
        "topic": sub["spec"].get("topic"),
        "route": (sub["spec"].get("routes") or {}).get("default"),
        "deadLetterTopic": sub["spec"].get("deadLetterTopic"),
        "scopes": sorted(sub.get("scopes") or []),
    }


def cmd_render(spec):
    objs = load_objects(spec["objects"])
    rendered = open(spec["rendered"]).read()
    label = spec["label"]
    fns = sorted(spec["functions"])
    dapr, keda, addon = spec["dapr"], spec["keda"], spec["addon"]
    ref = {k: load_objects(v) for k, v in spec.get("components", {}).items()}

    deps = {component(d): d for d in by_kind(objs, "Deployment")}
    check(sorted(deps) == fns, f"[{label}] one Deployment per function binary ({len(fns)})",
          f"got {sorted(deps)}")
    sas = {o["metadata"]["name"] for o in by_kind(objs, "ServiceAccount")}
    svcs = {component(s): s for s in by_kind(objs, "Service")}
    config_names = {c["metadata"]["name"] for c in by_kind(objs, "Configuration")}

    fullname_prefix = ""
    for name, d in sorted(deps.items()):
        dn = d["metadata"]["name"]
        if dn.endswith("-" + name):
            fullname_prefix = dn[: -len(name)]
        ps = pod_spec(d)
        c = ps["containers"][0]
        a = d["spec"]["template"]["metadata"].get("annotations") or {}
        envs = env_of(c)
        port = next((p["containerPort"] for p in c.get("ports", []) if p.get("name") == "http"), None)
        check(c.get("command") == [f"/usr/local/bin/{name}"], f"[{label}] {name} runs its own binary",
              str(c.get("command")))
        check(ps.get("serviceAccountName") in sas and ps.get("serviceAccountName", "").endswith(name),
              f"[{label}] {name} has its own ServiceAccount", str(ps.get("serviceAccountName")))
        svc = svcs.get(name)
        check(svc is not None and svc["spec"]["selector"].get("app.kubernetes.io/component") == name,
              f"[{label}] {name} has a Service selecting it")
        probes = (c.get("livenessProbe", {}).get("httpGet", {}).get("path"),
                  c.get("readinessProbe", {}).get("httpGet", {}).get("path"))
        check(probes == ("/healthz", "/readyz"), f"[{label}] {name} probes /healthz and /readyz", str(probes))
        psc, csc = ps.get("securityContext") or {}, c.get("securityContext") or {}
        hardened = (psc.get("runAsNonRoot") is True
                    and (psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault"
                    and csc.get("readOnlyRootFilesystem") is True
                    and csc.get("allowPrivilegeEscalation") is False
                    and (csc.get("capabilities") or {}).get("drop") == ["ALL"])
        check(hardened, f"[{label}] {name} is non-root, read-only, no capabilities, seccomp RuntimeDefault",
              json.dumps([psc, csc]))
        res = c.get("resources") or {}
        check(res.get("requests") and res.get("limits"), f"[{label}] {name} has resource requests and limits")
        for var in ("DATABASE_URL", "JWT_SECRET", "APP_API_TOKEN"):
            e = envs.get(var)
            check(e is not None and "value" not in e and secret_ref(e),
                  f"[{label}] {name} reads {var} through secretKeyRef", json.dumps(e))
        tok = secret_ref(envs.get("APP_API_TOKEN")) or {}
        if dapr:
            check(a.get("dapr.io/enabled") == "true" and a.get("dapr.io/app-id") == name
                  and a.get("dapr.io/app-port") == str(port),
                  f"[{label}] {name}: Dapr app id {name}, app port {port}",
                  json.dumps({k: v for k, v in a.items() if k.startswith("dapr.io/")}))
            check(a.get("dapr.io/app-token-secret") == tok.get("name") and tok.get("key") == "token",
                  f"[{label}] {name}: dapr.io/app-token-secret is the Secret of APP_API_TOKEN (key token)",
                  f"{a.get('dapr.io/app-token-secret')} vs {tok}")
            check(a.get("dapr.io/config") in config_names,
                  f"[{label}] {name}: dapr.io/config names the chart's Configuration")
            check(all(a.get(k) for k in ("dapr.io/sidecar-cpu-request", "dapr.io/sidecar-memory-limit")),
                  f"[{label}] {name}: sidecar resources set")
            check(envs.get("PUBSUB_TRANSPORT", {}).get("value") == "dapr",
                  f"[{label}] {name}: publishes through the sidecar")
        else:
            check(not any(k.startswith("dapr.io/") for k in a), f"[{label}] {name}: no Dapr annotations")
    # No literal value for anything that looks like a credential, anywhere.
    inline = []
    for o in objs:
        for ctr in (((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers", []):
            for e in ctr.get("env") or []:
                if re.search(r"PASSWORD|SECRET|TOKEN|DATABASE_URL|CREDENTIAL", e["name"]) and "value" in e:
                    inline.append(f"{o['kind']}/{o['metadata']['name']}: {e['name']}")
    check(not inline, f"[{label}] no credential-like variable has an inline value", str(inline))

    # -- Dapr resources, only with dapr.enabled --------------------------------------------
    dapr_objs = [o for o in objs if o.get("apiVersion", "").startswith("dapr.io/")]
    if not dapr:
        check(not dapr_objs, f"[{label}] no Dapr resources without dapr.enabled",
              str([o["kind"] + "/" + o["metadata"]["name"] for o in dapr_objs]))
    else:
        comps = {c["metadata"]["name"]: c for c in by_kind(objs, "Component")}
        types = {n: c["spec"]["type"] for n, c in comps.items()}
        want = {"pubsub": "pubsub.kafka", "pubsub-realtime": "pubsub.kafka", "reminder-cron": "bindings.cron",
                "statestore": "state.postgresql", "kubernetes-secrets": "secretstores.kubernetes"}
        check(all(types.get(k) == v for k, v in want.items()),
              f"[{label}] Dapr components: pub/sub (pubsub.kafka), realtime pub/sub, cron binding, state store, secret store",
              json.dumps(types))
        for n, c in comps.items():
            for m in c["spec"].get("metadata") or []:
                if re.search(r"(?i)password|username|connectionString|token|secret", m["name"]):
                    check("value" not in m and m.get("secretKeyRef"),
                          f"[{label}] component {n}: {m['name']} through secretKeyRef")
        # The chat finds its conversations' store by name; every function that loads the
        # store is told it, and no other.
        store = comps.get("statestore", {})
        told = sorted(n for n, d in deps.items()
                      if env_of(pod_spec(d)["containers"][0]).get("STATE_STORE", {}).get("value") == "statestore")
        check("chat" in told and told == sorted(store.get("scopes") or fns),
              f"[{label}] STATE_STORE names the state store in each function it is scoped to",
              f"{told} vs scopes {store.get('scopes')}")
        cron = comps.get("reminder-cron", {"spec": {}})
        meta = {m["name"]: m.get("value") for m in cron["spec"].get("metadata") or []}
        check(meta.get("schedule") == "@every 1m" and meta.get("direction") == "input"
              and cron.get("scopes") == ["reminder-tick"],
              f"[{label}] reminder-cron: @every 1m, input, scoped to reminder-tick", json.dumps(cron.get("scopes")))
        for name in ("pubsub", "pubsub-realtime"):
            mine = sorted(comps.get(name, {}).get("scopes") or [])
            theirs = sorted(next((c.get("scopes") for c in ref.get(name, []) if c.get("kind") == "Component"), []) or [])
            check(mine == theirs, f"[{label}] {name} scopes match components/{name}.yaml", f"{mine} vs {theirs}")
        rt = {m["name"]: m.get("value") for m in comps.get("pubsub-realtime", {"spec": {}})["spec"].get("metadata") or []}
        check(rt.get("consumerID") == "{uuid}" and rt.get("initialOffset") == "newest",
              f"[{label}] pubsub-realtime: a consumer group per pod, newest offset")
        subs = sorted((strip_names(s) for s in by_kind(objs, "Subscription")), key=lambda s: s["name"])
        want_subs = sorted((strip_names(s) for s in ref.get("subscriptions", [])), key=lambda s: s["name"])
        check(subs == want_subs and subs, f"[{label}] Subscriptions equal components/subscriptions.yaml ({len(subs)})",
              json.dumps([s for s in subs if s not in want_subs] + [s for s in want_subs if s not in subs]))
        res = by_kind(objs, "Resiliency")
        want_res = [r["spec"] for r in ref.get("resiliency", [])]
        check(len(res) == 1 and want_res and res[0]["spec"] == want_res[0],
              f"[{label}] Resiliency equals components/resiliency.yaml (retry every 2 s, never dead-letter a failure)",
              json.dumps(res[0]["spec"] if res else None))
        cfg = by_kind(objs, "Configuration")
        check(len(cfg) == 1 and "tracing" in cfg[0]["spec"], f"[{label}] a Dapr Configuration with tracing")

    # -- scaling -----------------------------------------------------------------------------
    sos = {o["spec"]["scaleTargetRef"]["name"]: o for o in by_kind(objs, "ScaledObject")}
    hpas = {o["spec"]["scaleTargetRef"]["name"]: o for o in by_kind(objs, "HorizontalPodAutoscaler")}
    hsos = {o["spec"]["scaleTargetRef"]["name"]: o for o in by_kind(objs, "HTTPScaledObject")}
    pdbs = {component(o): o for o in by_kind(objs, "PodDisruptionBudget")}
    consumers = {s["scopes"][0]: [] for s in (strip_names(x) for x in ref.get("subscriptions", []))
                 if s["pubsubname"] == "pubsub"}
    for s in (strip_names(x) for x in ref.get("subscriptions", [])):
        if s["pubsubname"] == "pubsub":
            consumers[s["scopes"][0]].append(s["topic"])
    routes = by_kind(objs, "HTTPRoute")
    http_fns = set()
    for rt in routes:
        for rule in rt["spec"].get("rules", []):
            for b in rule.get("backendRefs", []):
                if b["name"].startswith(fullname_prefix):
                    http_fns.add(b["name"][len(fullname_prefix):])
            for f in rule.get("filters", []) or []:
                h = (f.get("urlRewrite") or {}).get("hostname", "")
                if h:
                    http_fns.add(h.split(".")[0][len(fullname_prefix):])
    for name in fns:
        dn = fullname_prefix + name
        so, hpa, hso = sos.get(dn), hpas.get(dn), hsos.get(dn)
        if name in ("reminder-tick", "realtime"):
            check(so is None and hpa is None and hso is None and deps[name]["spec"].get("replicas") == 1,
                  f"[{label}] {name} stays at one replica (no autoscaler)")
            pdb = pdbs.get(name)
            check(pdb is not None and pdb["spec"].get("minAvailable") == 1,
                  f"[{label}] {name} has a PodDisruptionBudget (minAvailable 1)")
        elif name in consumers and keda and dapr:
            trig = [t for t in (so or {}).get("spec", {}).get("triggers", []) if t["type"] == "kafka"]
            ok = (so is not None and sorted(t["metadata"]["topic"] for t in trig) == sorted(consumers[name])
                  and all(t["metadata"]["consumerGroup"] == name for t in trig))
            check(ok, f"[{label}] {name}: ScaledObject on Kafka lag of group {name} on {consumers[name]}",
                  json.dumps(trig))
            serves_api = name in http_fns
            got = (so or {}).get("spec", {}).get("minReplicaCount")
            if not serves_api or addon:
                why = "a pure consumer" if not serves_api else "serves the API too, woken by the HTTP add-on"
                check(got == 0, f"[{label}] {name}: minReplicaCount 0 ({why})", f"got {got}")
            else:
                check(isinstance(got, int) and got >= 1,
                      f"[{label}] {name}: minReplicaCount {got} (serves the API too; no HTTP add-on to wake it)")
            if serves_api and addon:
                push = [t for t in so["spec"]["triggers"] if t["type"] == "external-push"]
                check(push and hso is not None
                      and ann(hso).get("httpscaledobject.keda.sh/skip-scaledobject-creation") == "true",
                      f"[{label}] {name}: HTTP add-on trigger in its ScaledObject, HTTPScaledObject only routes")
            check(hpa is None, f"[{label}] {name}: no HPA beside KEDA")
        elif name in http_fns and addon:
            check(hso is not None and hso["spec"]["replicas"]["min"] == 0 and so is None and hpa is None,
                  f"[{label}] {name}: scales to zero through an HTTPScaledObject")
        else:
            check(hpa is not None and hpa["spec"]["minReplicas"] >= 1 and so is None,
                  f"[{label}] {name}: HPA (min {hpa['spec']['minReplicas'] if hpa else '?'})")
    if not keda:
        check(not sos, f"[{label}] no ScaledObject without keda.enabled")

    # -- routing -----------------------------------------------------------------------------
    main = [r for r in routes if not r["metadata"]["name"].endswith("-redirect")]
    if spec.get("gateway", True):
        check(len(main) == 1, f"[{label}] one HTTPRoute for the API")
        if main:
            hosts = {}
            for hso in hsos.values():
                for h in hso["spec"].get("hosts", []):
                    hosts[h] = hso["spec"]["scaleTargetRef"]["name"][len(fullname_prefix):]
            bad = []
            api = api_routes(spec["openapi"], fns)
            check(len(api) >= 20, f"[{label}] the functions' OpenAPI document tags its "
                                  f"operations by function ({len(api)})")
            requests = api + ROUTES
            for method, path, want in requests:
                got = route_target(main[0], fullname_prefix, hosts, method, path)
                if got != ([want] if want else []):
                    bad.append(f"{method} {path} -> {got}, want {want}")
            check(not bad, f"[{label}] HTTPRoute sends each method and path to its function, "
                           f"and nothing else ({len(requests)} requests)", "; ".join(bad))
            rt_rule = [r for r in main[0]["spec"]["rules"]
                       if any(re.fullmatch(m["path"]["value"], "/api/a/stream") for m in r["matches"])]
            check(rt_rule and (rt_rule[0].get("timeouts") or {}).get("request") == "0s",
                  f"[{label}] the event stream's route has no request timeout")
        gws = by_kind(objs, "Gateway")
        if spec.get("tls"):
            https = [l for g in gws for l in g["spec"]["listeners"] if l["protocol"] == "HTTPS"]
            check(https and https[0]["tls"]["certificateRefs"], f"[{label}] Gateway terminates TLS (HTTPS listener)")
            check(any(r["metadata"]["name"].endswith("-redirect") for r in routes),
                  f"[{label}] plain HTTP redirects to HTTPS")
        if addon:
            check(by_kind(objs, "ReferenceGrant") or spec.get("referenceGrantSeparate"),
                  f"[{label}] ReferenceGrant lets the route reach the interceptor")
    check(not by_kind(objs, "Ingress"), f"[{label}] no Ingress (it cannot route by method)")

    # -- migration hook ------------------------------------------------------------------
    jobs = by_kind(objs, "Job")
    hook = [j for j in jobs if "pre-install" in ann(j).get("helm.sh/hook", "")
            and "pre-upgrade" in ann(j).get("helm.sh/hook", "")]
    if check(len(hook) == 1, f"[{label}] a pre-install,pre-upgrade migration hook Job"):
        ps = pod_spec(hook[0])
        c = ps["containers"][0]
        a = hook[0]["spec"]["template"]["metadata"].get("annotations") or {}
        check(c.get("command") == [f"/usr/local/bin/{spec['migrationBinary']}"] and c.get("args") == ["migrate"],
              f"[{label}] the hook runs `{spec['migrationBinary']} migrate`")
        check(a.get("dapr.io/enabled") != "true", f"[{label}] the hook Job has no Dapr sidecar")
        check(secret_ref(env_of(c).get("DATABASE_URL")), f"[{label}] the hook reads DATABASE_URL through secretKeyRef")

    # Large numbers from values must not turn into floats ("1.048576e+06" breaks Dapr).
    floats = re.findall(r"[\"' ]\d\.\d+e\+\d+", rendered)
    check(not floats, f"[{label}] no number rendered in exponent notation", str(floats))

    # -- secrets ------------------------------------------------------------------------------
    leaks = [s for s in spec.get("sentinels", []) if s in rendered]
    check(not leaks, f"[{label}] no secret value in the rendered manifests", str(leaks))
    secrets = by_kind(objs, "Secret")
    own = [s for s in secrets if s["metadata"]["name"].endswith("-app-token")]
    check(len(secrets) == len(own) and all(sorted((s.get("data") or {}).keys()) == ["token"] for s in own),
          f"[{label}] the only Secret the chart renders is the generated app token",
          str([s["metadata"]["name"] for s in secrets]))
    unlabelled = [o["kind"] + "/" + o["metadata"]["name"] for o in objs
                  if labels(o).get("app.kubernetes.io/managed-by") != "Helm"]
    check(not unlabelled, f"[{label}] every object carries the chart's labels", str(unlabelled))


def cmd_live(spec):
    objs = load_objects(spec["objects"])
    label = spec["label"]
    for d in by_kind(objs, "Deployment"):
        st = d.get("status") or {}
        avail = any(c["type"] == "Available" and c["status"] == "True" for c in st.get("conditions", []))
        check(avail and st.get("availableReplicas", 0) >= 1 and st.get("updatedReplicas") == st.get("replicas"),
              f"[{label}] Deployment {d['metadata']['name']} available on the simulated node "
              f"({st.get('availableReplicas', 0)}/{st.get('replicas', 0)})")
    status = json.load(open(spec["status"]))
    hooks = [h for h in status.get("hooks", []) if h.get("kind") == "Job"]
    runs = [(h.get("last_run") or {}) for h in hooks]
    check(len(hooks) == 1 and runs[0].get("phase") == "Succeeded",
          f"[{label}] the migration hook Job ran and succeeded (helm status: {runs[0].get('phase') if runs else None})")
    left = [j["metadata"]["name"] for j in by_kind(objs, "Job")]
    check(not left, f"[{label}] the succeeded hook Job was cleaned up", str(left))
    want = spec.get("image")
    if want:
        imgs = {c["image"] for d in by_kind(objs, "Deployment") for c in pod_spec(d)["containers"]}
        check(imgs == {want}, f"[{label}] every function runs image {want}", str(sorted(imgs)))


def cmd_split(src, out_main, out_other, kinds):
    kinds = set(kinds.split(","))
    docs = re.split(r"(?m)^---\s*$", open(src).read())
    main, other = [], []
    for d in docs:
        m = re.search(r"(?m)^kind:\s*(\S+)", d)
        if not m:
            continue
        (other if m.group(1) in kinds else main).append(d.strip("\n"))
    for path, ds in ((out_main, main), (out_other, other)):
        with open(path, "w") as f:
            f.write("".join("---\n" + d + "\n" for d in ds))


def main(argv):
    if len(argv) >= 2 and argv[1] == "split":
        cmd_split(*argv[2:6])
        return 0
    if len(argv) != 3 or argv[1] not in ("render", "live"):
        print(__doc__, file=sys.stderr)
        return 2
    spec = json.load(open(argv[2]))
    try:
        (cmd_render if argv[1] == "render" else cmd_live)(spec)
    except Exception as e:  # an unexpected shape is a failed check, not a crash
        check(False, f"[{spec.get('label')}] assertions ran to the end", repr(e))
    print(f"RESULT {PASSED} {FAILED}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
