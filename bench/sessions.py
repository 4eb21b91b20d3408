"""ORS sessions: sessions created per second, `submit` latency, warm `run_python` latency.

    .venv/bin/python -m bench.sessions [--seconds S] [--calls N]

Starts `referee serve` and, as the peer, the `openreward` package's own ORS server (its
`Server` hosting the same `subset_sum` instances, scored in-process by the same code), and
drives both with the same HTTP client and the same sequence: create a session, create the
episode, read the prompt, `submit` the right answer, delete. Each session plays a distinct
instance. `run_python("x = x + 1")` runs in one warm session; its peer is the stateless way, a
fresh sandboxed run per call (`POST /v1/sandbox/run` of "x = 0; x = x + 1").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.local_server import free_port, start_server, wait_until_up
from bench.service import tree_cpu_seconds

ENV = "subset_sum"
PEER_ENV = "subsetsum"  # the peer names an environment after its class
SPLIT_SIZE = 100_000
PEER_SOURCE = '''
import sys
from pydantic import BaseModel
from openreward.environments import Environment, Server, TextBlock, ToolOutput, tool
from envs import get_environment
from envs.ids import encode_id

ENV = get_environment("{env}")
CONFIG = ENV.parse_config({{}}).model_dump(mode="json")


class Answer(BaseModel):
    answer: str


class SubsetSum(Environment):
    def __init__(self, task_spec={{}}, secrets={{}}):
        super().__init__(task_spec, secrets)
        self.instance = ENV.rebuild(task_spec["instance_id"])

    @classmethod
    def list_splits(cls):
        return ["train"]

    @classmethod
    def list_tasks(cls, split):
        return [{{"instance_id": encode_id(ENV.name, ENV.version, i, CONFIG)}} for i in range({size})]

    def get_prompt(self):
        return [TextBlock(text=self.instance.prompt)]

    @tool
    async def submit(self, args: Answer) -> ToolOutput:
        verdict = ENV.score(self.instance, "<answer>" + args.answer + "</answer>")
        return ToolOutput(blocks=[TextBlock(text=verdict.message or "scored")], reward=verdict.reward, finished=True)


Server([SubsetSum]).run(host="127.0.0.1", port=int(sys.argv[1]))
'''


def sse_result(text: str) -> dict | str:
    data, event = [], None
    for line in text.splitlines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:") and event in ("chunk", "end", "task_id"):
            data.append((event, line[5:].lstrip()))
    if data and data[0][0] == "task_id" and len(data) == 2 and not data[1][1]:
        return data[0][1]  # /create_session: the session id
    return json.loads("".join(d for e, d in data if e in ("chunk", "end")))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


class Driver:
    """One client: plays whole episodes against an ORS base URL."""

    def __init__(self, base: str, env_name: str):
        self.http = httpx.Client(base_url=base, timeout=60, headers={"Accept": "text/event-stream"})
        self.env_name = env_name

    def episode(self, answers: dict[str, str], submit_times: list[float] | None) -> None:
        created = self.http.post("/create_session")
        sid = sse_result(created.text) if created.headers["content-type"].startswith("text/event-stream") \
            else created.json()["sid"]
        headers = {"X-Session-ID": sid}
        instance_id = next(iter(answers))
        r = self.http.post("/create", headers=headers,
                           json={"env_name": self.env_name, "task_spec": {"instance_id": instance_id}})
        assert r.status_code == 200, r.text
        self.http.get(f"/{self.env_name}/prompt", headers=headers).raise_for_status()
        t0 = time.perf_counter()
        r = self.http.post(f"/{self.env_name}/call", headers=headers,
                           json={"name": "submit", "input": {"answer": answers[instance_id]}})
        elapsed = time.perf_counter() - t0
        result = sse_result(r.text)
        assert result["ok"] and result["output"]["reward"] == 1.0, result
        if submit_times is not None:
            submit_times.append(elapsed)
        self.http.post("/delete", headers=headers)


def instances(start: int, n: int) -> list[tuple[str, str]]:
    from envs import get_environment
    env = get_environment(ENV)
    out = []
    for seed in range(start, start + n):
        inst = env.sample(seed)
        out.append((inst.id, env.format_answer(inst.solution)))
    return out


def play(base: str, env_name: str, pool: list[tuple[str, str]], clients: int, seconds: float,
         submit_times: list[float]) -> float:
    """Episodes per second with `clients` threads, each instance used once."""
    lock = threading.Lock()
    cursor = [0]
    done = [0]
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        driver = Driver(base, env_name)
        while time.monotonic() < stop:
            with lock:
                if cursor[0] >= len(pool):
                    return
                instance_id, answer = pool[cursor[0]]
                cursor[0] += 1
            driver.episode({instance_id: answer}, submit_times)
            with lock:
                done[0] += 1

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / (time.monotonic() - start)


def start_peer() -> tuple[subprocess.Popen, str]:
    port = free_port()
    source = PEER_SOURCE.format(env=ENV, size=SPLIT_SIZE)
    proc = subprocess.Popen([sys.executable, "-c", source, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=os.environ | {"OPENREWARD_DISABLE_UPDATE_CHECK": "1"})
    return proc, wait_until_up(proc, f"http://127.0.0.1:{port}", "/health", "the openreward peer server")


def python_latencies(url: str, calls: int) -> tuple[list[float], list[float]]:
    """Warm `run_python("x = x + 1")` in one session, and a fresh sandboxed run per call."""
    with httpx.Client(base_url=f"{url}/v1/ors", timeout=60, headers={"Accept": "text/event-stream"}) as http:
        sid = http.post("/create_session", headers={"Accept": "application/json"}).json()["sid"]
        headers = {"X-Session-ID": sid}
        http.post("/create", headers=headers, json={"env_name": "python", "split": "train", "index": 0}).raise_for_status()

        def run(code: str) -> dict:
            result = sse_result(http.post("/python/call", headers=headers,
                                          json={"name": "run_python", "input": {"code": code}}).text)
            assert result["ok"] and not result["output"]["metadata"]["error"], result
            return result

        run("x = 0")
        for _ in range(20):  # warm
            run("x = x + 1")
        warm = []
        for _ in range(calls):
            t0 = time.perf_counter()
            run("x = x + 1")
            warm.append(time.perf_counter() - t0)
        final = run("x")["output"]["blocks"][0]["text"]
        assert final == str(20 + calls), final
        http.post("/delete", headers=headers)
    fresh = []
    with httpx.Client(base_url=url, timeout=60) as http:
        body = {"language": "python", "source": "x = 0\nx = x + 1\nprint(x)"}
        for _ in range(5):
            http.post("/v1/sandbox/run", json=body).raise_for_status()
        for _ in range(max(20, calls // 5)):
            t0 = time.perf_counter()
            r = http.post("/v1/sandbox/run", json=body)
            fresh.append(time.perf_counter() - t0)
            assert r.status_code == 200 and "1" in r.text, r.text[:200]
    return warm, fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each session run")
    parser.add_argument("--calls", type=int, default=500, help="run_python calls measured")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    per_run = int(args.seconds * 400) + 50
    print(f"preparing {4 * per_run} distinct {ENV} instances ...", flush=True)
    pool = instances(0, 4 * per_run)
    tasks = Path(tempfile.mkdtemp()) / "python.jsonl"
    tasks.write_text(json.dumps({"prompt": "Use run_python.", "verifier": "exact", "reference": "0"}) + "\n")
    proc, url = start_server(1, env={"REFEREE_ORS_TASK_FILES": f"python={tasks}",
                                     "REFEREE_ORS_MAX_SESSIONS": "100000", "REFEREE_CACHE_ENTRIES": "0"})
    peer, peer_url = start_peer()
    try:
        play(f"{url}/v1/ors", ENV, pool[:50], 1, 60, [])  # warm both
        play(peer_url, PEER_ENV, pool[50:100], 1, 60, [])
        # Throughput with several clients; latency with one (client threads share one GIL here).
        # Server CPU per episode: a figure that load on a shared machine inflates far less than wall time.
        cpu = tree_cpu_seconds(proc.pid)
        ours_rate = play(f"{url}/v1/ors", ENV, pool[100:100 + per_run], args.clients, args.seconds, [])
        ours_cpu = (tree_cpu_seconds(proc.pid) - cpu) / (ours_rate * args.seconds) * 1000
        cpu = tree_cpu_seconds(peer.pid)
        peer_rate = play(peer_url, PEER_ENV, pool[100 + per_run:100 + 2 * per_run], args.clients, args.seconds, [])
        peer_cpu = (tree_cpu_seconds(peer.pid) - cpu) / (peer_rate * args.seconds) * 1000
        ours_submit: list[float] = []
        peer_submit: list[float] = []
        latency_pool = pool[100 + 2 * per_run:]
        half = len(latency_pool) // 2
        play(f"{url}/v1/ors", ENV, latency_pool[:half], 1, args.seconds, ours_submit)
        play(peer_url, PEER_ENV, latency_pool[half:], 1, args.seconds, peer_submit)
        warm, fresh = python_latencies(url, args.calls)
    finally:
        for p in (proc, peer):
            p.terminate()
            p.wait()
    print(f"\n{'':<44} {'Referee':>10} {'peer':>10} {'ratio':>7}")
    print(f"{'episodes (sessions) per second, ' + str(args.clients) + ' clients':<44} {ours_rate:>10,.0f} "
          f"{peer_rate:>10,.0f} {ours_rate / peer_rate:>6.2f}x")
    print(f"{'server CPU ms per episode':<44} {ours_cpu:>10.2f} {peer_cpu:>10.2f} {peer_cpu / ours_cpu:>6.2f}x")
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        ours, peer_ms = percentile(ours_submit, q), percentile(peer_submit, q)
        print(f"{'submit ' + name + ' ms (' + ENV + ')':<44} {ours:>10.2f} {peer_ms:>10.2f} {peer_ms / ours:>6.2f}x")
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        ours, fresh_ms = percentile(warm, q), percentile(fresh, q)
        print(f"{'run_python(x = x + 1) ' + name + ' ms (warm / fresh run)':<44} {ours:>10.2f} {fresh_ms:>10.2f} "
              f"{fresh_ms / ours:>6.2f}x")
    print("peer: the openreward package's own ORS server for sessions and submit; a fresh sandboxed run "
          "per call (POST /v1/sandbox/run) for run_python")
    print(f"machine load average over the last minute: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
