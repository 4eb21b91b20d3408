"""shortest_path: a least-weight path between two vertices of a weighted graph (oracle: Dijkstra).

A random connected undirected graph (a random spanning tree plus extra edges) with positive
integer weights. The optimum is computed by Dijkstra; any path from the source to the target
along existing edges whose total weight equals the optimum is accepted.

Partial credit (only with `partial_credit: true`): a valid but longer path earns
optimum / its weight; without it, a longer path scores 0.
"""

from __future__ import annotations

import heapq
import re

from typing import Any

from pydantic import Field, model_validator

from envs.base import (AnswerFormatError, EnvConfig, Environment, Generation, Instance, Problem, accept,
                       answer_format, parse_int, register, reject)
from verifiers.contract import Verdict


class ShortestPathConfig(EnvConfig):
    n_nodes: int = Field(10, ge=4, le=80, description="number of vertices")
    extra_edges: int = Field(10, ge=0, le=300, description="edges added on top of a random spanning tree")
    max_weight: int = Field(20, ge=1, le=1000, description="edge weights are drawn from 1..max_weight")
    partial_credit: bool = Field(False, description="reward a valid longer path with optimum / its weight")

    @model_validator(mode="after")
    def _fits(self) -> "ShortestPathConfig":
        if self.extra_edges > self.n_nodes * (self.n_nodes - 1) // 2 - (self.n_nodes - 1):
            raise ValueError("extra_edges exceeds the number of vertex pairs left")
        return self


def dijkstra(n: int, adjacency: dict[int, dict[int, int]], source: int) -> list[float]:
    dist = [float("inf")] * n
    dist[source] = 0
    heap = [(0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v, w in adjacency[u].items():
            if d + w < dist[v]:
                dist[v] = d + w
                heapq.heappush(heap, (d + w, v))
    return dist


def shortest_path_nodes(n: int, adjacency: dict[int, dict[int, int]], source: int, target: int) -> list[int]:
    dist = dijkstra(n, adjacency, source)
    path = [target]
    while path[-1] != source:  # walk back along tight edges; lowest vertex first for a stable reference
        v = path[-1]
        path.append(min(u for u, w in adjacency[v].items() if dist[u] + w == dist[v]))
    return path[::-1]


def adjacency_of(n: int, edges: list[tuple[int, int, int]]) -> dict[int, dict[int, int]]:
    adjacency: dict[int, dict[int, int]] = {v: {} for v in range(n)}
    for u, v, w in edges:
        adjacency[u][v] = adjacency[v][u] = w
    return adjacency


@register
class ShortestPath(Environment):
    name = "shortest_path"
    version = 1
    kind = "oracle"
    description = "Find a least-weight path between two vertices of a weighted graph (Dijkstra oracle)."
    Config = ShortestPathConfig
    easiest = {"n_nodes": 4, "extra_edges": 0, "max_weight": 5}
    hardest = {"n_nodes": 80, "extra_edges": 300, "max_weight": 1000}
    max_attempts = 1
    partial_credit = "only with config partial_credit=true: a valid longer path earns optimum / its weight"

    def generate(self, gen: Generation, config: ShortestPathConfig) -> Problem:
        rng, n = gen.rng, config.n_nodes
        for _ in gen.tries():
            order = rng.sample(range(n), n)
            pairs = {(min(a, b), max(a, b)) for a, b in
                     ((order[i], order[rng.randrange(i)]) for i in range(1, n))}
            others = [(u, v) for u in range(n) for v in range(u + 1, n) if (u, v) not in pairs]
            pairs |= set(rng.sample(others, config.extra_edges))
            edges = [(u, v, rng.randint(1, config.max_weight)) for u, v in sorted(pairs)]
            source, target = rng.sample(range(n), 2)
            adjacency = adjacency_of(n, edges)
            path = shortest_path_nodes(n, adjacency, source, target)
            best = sum(adjacency[a][b] for a, b in zip(path, path[1:]))
            prompt = (
                f"An undirected graph has vertices 0 to {n - 1} and these weighted edges (`u-v: weight`):\n"
                + ", ".join(f"{u}-{v}: {w}" for u, v, w in edges)
                + f"\n\nFind a path from vertex {source} to vertex {target} with the smallest total weight."
                + answer_format(f"the vertices of the path in order, from {source} to {target}, separated by "
                                f"`->`.", "3 -> 5 -> 1"))
            return Problem(prompt=prompt,
                           data={"n": n, "edges": edges, "source": source, "target": target, "optimum": best},
                           solution=path, metadata={"optimum": best, "edges": len(edges)})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return " -> ".join(map(str, solution))

    def parse_answer(self, answer: str, instance: Instance) -> list[int]:
        tokens = [t for t in re.split(r"\s*(?:->|→|,|\s)\s*", answer.strip()) if t]
        if not tokens:
            raise AnswerFormatError("no vertices in the answer")
        return [parse_int(t, "vertex") for t in tokens]

    def check(self, instance: Instance, path: list[int]) -> Verdict:
        data = instance.data
        adjacency = adjacency_of(data["n"], data["edges"])
        if path[0] != data["source"]:
            return reject("start", f"the path starts at {path[0]}, not {data['source']}", path=path)
        if path[-1] != data["target"]:
            return reject("end", f"the path ends at {path[-1]}, not {data['target']}", path=path)
        total = 0
        for a, b in zip(path, path[1:]):
            if b not in adjacency.get(a, {}):
                return reject("edge", f"there is no edge {a}-{b}", path=path)
            total += adjacency[a][b]
        if total != data["optimum"]:
            verdict = reject("optimal", f"the path weighs {total}; the shortest weighs {data['optimum']}",
                             path=path, weight=total)
            if instance.config.get("partial_credit"):
                verdict.reward = data["optimum"] / total
                verdict.components = {"valid": 1.0, "optimal": 0.0}
            return verdict
        return accept(weight=total)
