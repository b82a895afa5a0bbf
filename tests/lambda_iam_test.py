#!/usr/bin/env python3
"""Least privilege of the Lambda step on moto (S3 + IAM), with each role's credentials.

A private moto_server (signature checks turn on for the whole server, so it
cannot be the shared one) holds one IAM user per tradelake role whose inline
policy is policies/<role>.json with ${LakeBucket}/${LakePrefix} substituted:
the document the CloudFormation template attaches to the role
(tests/deploy_checks_test.py proves that). `tradelake lambda` then runs each
action with each role's access key, against a fake Runtime API and the
simulator, as the deployed function would with its role's credentials.

Asserted: the ingest action run with the etl, analyst or deployer key fails
as a handler error of type tradelake.AccessDenied, refused by moto's IAM
evaluation (not by a signature mismatch) at its first S3 request.

Recorded, not asserted (printed as "info"): the allowed pairs (ingest key +
ingest, etl key + etl) and the etl/compact refusals. moto 5.2.1 with
signature checks on rejects correct signatures for keys holding '=' (every
Bronze checkpoint and object key) and for list prefixes with '/' (the ETL
lease listing is the ETL's first request), README "The lake on S3", so those
fail with SignatureDoesNotMatch whatever the policy. Their success without
signature checks is shown by lambda_sandbox_test.py, and every role x area x
operation cell by src/store/iam_matrix_test.cc.

usage: lambda_iam_test.py --tradelake BUILD/tradelake
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lambda_sandbox_test as sandbox  # noqa: E402  (FakeRuntimeApi, free_port, now_ms)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUCKET = "lambda-iam-lake"
PREFIX = "lake"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def find_moto():
    for c in (os.environ.get("TRADELAKE_MOTO_SERVER"), shutil.which("moto_server"),
              os.path.join(ROOT, ".venv", "bin", "moto_server")):
        if c and os.path.exists(c):
            return c
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tradelake", required=True)
    args = ap.parse_args()
    try:
        import boto3
    except ImportError:
        venv = os.path.join(ROOT, ".venv", "bin", "python")
        if os.path.exists(venv) and os.path.realpath(sys.executable) != os.path.realpath(venv):
            os.execv(venv, [venv, *sys.argv])
        print("FAIL boto3 is missing (make deps)")
        return 1
    moto_bin = find_moto()
    if not moto_bin:
        print("FAIL moto_server not found (make deps)")
        return 1
    tmp = tempfile.mkdtemp(prefix="tl-lambda-iam-")
    procs = []
    try:
        port = sandbox.free_port()
        moto = "http://127.0.0.1:%d" % port
        mlog = open(os.path.join(tmp, "moto.log"), "w")
        m = subprocess.Popen([moto_bin, "-H", "127.0.0.1", "-p", str(port)], stdout=mlog, stderr=subprocess.STDOUT,
                             start_new_session=True)
        procs.append(m)
        for _ in range(300):
            try:
                urllib.request.urlopen(moto + "/moto-api/").read()
                break
            except Exception:
                time.sleep(0.1)
        admin = dict(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1",
                     endpoint_url=moto)
        boto3.client("s3", **admin).create_bucket(Bucket=BUCKET)
        iam = boto3.client("iam", **admin)
        keys = {}
        for role in ("ingest", "etl", "analyst", "deployer"):
            doc = open(os.path.join(ROOT, "policies", role + ".json")).read()
            doc = doc.replace("${LakeBucket}", BUCKET).replace("${LakePrefix}", PREFIX)
            iam.create_user(UserName="tradelake-" + role)
            iam.put_user_policy(UserName="tradelake-" + role, PolicyName=role, PolicyDocument=doc)
            k = iam.create_access_key(UserName="tradelake-" + role)["AccessKey"]
            keys[role] = (k["AccessKeyId"], k["SecretAccessKey"])

        ready = os.path.join(tmp, "sim.url")
        sim = subprocess.Popen([args.tradelake, "simulate", "--port", "0", "--ready-file", ready, "--products",
                                "BTC-USD", "--seed", "5", "--history", "10m", "--no-rate-limit"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(sim)
        for _ in range(600):
            if os.path.exists(ready) and open(ready).read().strip():
                break
            time.sleep(0.1)
        sim_url = open(ready).read().strip()

        # From here on moto checks every signature and evaluates IAM.
        req = urllib.request.Request(moto + "/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(req).read()

        def invoke(role, action):
            api = sandbox.FakeRuntimeApi()
            env = dict(os.environ, AWS_ACCESS_KEY_ID=keys[role][0], AWS_SECRET_ACCESS_KEY=keys[role][1],
                       AWS_REGION="us-east-1", AWS_ENDPOINT_URL=moto, AWS_LAMBDA_RUNTIME_API=api.address,
                       TRADELAKE_LAKE="s3://%s/%s" % (BUCKET, PREFIX), TRADELAKE_PRODUCTS="BTC-USD",
                       TRADELAKE_EXCHANGE_URL=sim_url, TRADELAKE_MAX_ATTEMPTS="1")
            env.pop("AWS_SESSION_TOKEN", None)
            env.pop("AWS_PROFILE", None)
            with open(os.path.join(tmp, "%s-%s.log" % (role, action)), "w") as log:
                p = subprocess.Popen([args.tradelake, "lambda", "--max-invocations", "1"], env=env, stdout=log,
                                     stderr=subprocess.STDOUT)
                api.push(json.dumps({"action": action}), sandbox.now_ms() + 120_000, "%s-%s" % (role, action))
                posts = api.wait_posts(1, 150)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            api.server.shutdown()
            return posts[0] if posts else None

        # Refused at the step's first S3 request, a GET of the schedule
        # (_state/ingest/schedule.json: no '=', no list), which moto verifies
        # and evaluates like S3.
        for role in ("etl", "analyst", "deployer"):
            post = invoke(role, "ingest")
            ok = (post is not None and post["path"].endswith("/error") and
                  post["error_type"] == "tradelake.AccessDenied" and "does not allow GET" in post["body"] and
                  "SignatureDoesNotMatch" not in post["body"])
            check(ok, "the %s role's key may not run ingest (moto's IAM refuses): %s"
                  % (role, post and (post["error_type"], json.loads(post["body"]).get("errorMessage", "")[:240])))
        # Recorded only: the ETL's and compaction's first request lists
        # _state/etl/lease/ (a prefix with '/'), and ingest's own first write
        # has '=' in its key; moto 5.2.1 answers SignatureDoesNotMatch to both
        # whatever the key's policy, so they prove nothing either way here.
        for role, action in (("ingest", "ingest"), ("etl", "etl"), ("ingest", "etl"), ("analyst", "etl"),
                             ("ingest", "compact")):
            post = invoke(role, action)
            what = "no answer" if post is None else (
                "answered" if post["path"].endswith("/response") else json.loads(post["body"])["errorMessage"][:200])
            print("info %s key, action %s, signed moto (not counted): %s" % (role, action, what))
    finally:
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM) if p is procs[0] else p.terminate()
                    p.wait(timeout=10)
                except Exception:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
