"""graph_colouring: colour the vertices of a graph with k colours so no edge joins equal colours.

A k-colouring is planted (every colour used) and edges are drawn only between vertices of
different colours. With `exact_chromatic`, z3 must prove the graph is not (k-1)-colourable,
so k colours are really needed. Any proper colouring with at most k colours is accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from envs.base import (AnswerFormatError, EnvConfig, Environment, Generation, Instance, Problem, accept,
                       answer_format, parse_int_list, register, reject)
from verifiers.contract import Verdict


class GraphColouringConfig(EnvConfig):
    n_vertices: int = Field(10, ge=4, le=40, description="number of vertices")
    n_colours: int = Field(3, ge=2, le=5, description="colours allowed (k)")
    edge_probability: float = Field(0.5, ge=0.25, le=0.9,
                                    description="chance of an edge between two differently-coloured vertices")
    exact_chromatic: bool = Field(True, description="require (z3) that k-1 colours do not suffice")

    @model_validator(mode="after")
    def _enough_vertices(self) -> "GraphColouringConfig":
        if self.n_vertices < self.n_colours:
            raise ValueError("n_vertices must be at least n_colours")
        return self


def colourable(gen: Generation, n: int, edges: list[tuple[int, int]], k: int):
    """z3: is the graph k-colourable? Returns z3.sat / z3.unsat / z3.unknown."""
    import z3

    colour = [z3.Int(f"v{i}") for i in range(n)]
    solver = gen.solver()
    solver.add([z3.And(c >= 0, c < k) for c in colour])
    solver.add([colour[u] != colour[v] for u, v in edges])
    if edges:  # symmetry breaking: the first edge's ends get colours 0 and 1
        u, v = edges[0]
        solver.add(colour[u] == 0, colour[v] == min(1, k - 1))
    return solver.check()


@register
class GraphColouring(Environment):
    name = "graph_colouring"
    version = 1
    description = "Colour a graph's vertices with k colours so that adjacent vertices differ (planted, z3-checked chromatic number)."
    Config = GraphColouringConfig
    easiest = {"n_vertices": 4, "n_colours": 2, "edge_probability": 0.9}
    hardest = {"n_vertices": 40, "n_colours": 5, "edge_probability": 0.25}
    max_attempts = 40
    solver_rlimit = 3_000_000

    def generate(self, gen: Generation, config: GraphColouringConfig) -> Problem:
        import z3

        rng, n, k = gen.rng, config.n_vertices, config.n_colours
        for _ in gen.tries():
            colours = list(range(k)) + [rng.randrange(k) for _ in range(n - k)]
            rng.shuffle(colours)
            edges = [(u, v) for u in range(n) for v in range(u + 1, n)
                     if colours[u] != colours[v] and rng.random() < config.edge_probability]
            if not edges:
                continue
            if config.exact_chromatic and colourable(gen, n, edges, k - 1) != z3.unsat:
                continue
            edge_text = ", ".join(f"{u}-{v}" for u, v in edges)
            prompt = (
                f"A graph has {n} vertices numbered 0 to {n - 1} and these {len(edges)} edges:\n{edge_text}\n\n"
                f"Colour every vertex with one of the colours 1 to {k} so that the two ends of every edge "
                f"have different colours."
                + answer_format(f"the colours of vertices 0, 1, ..., {n - 1} in that order: {n} integers "
                                f"from 1 to {k}, separated by commas.", ", ".join(["c"] * min(n, 4)) + ", ..."))
            return Problem(prompt=prompt, data={"n": n, "k": k, "edges": edges},
                           solution=[c + 1 for c in colours], metadata={"edges": len(edges)})
        raise AssertionError("unreachable")

    def format_answer(self, solution: Any) -> str:
        return ", ".join(map(str, solution))

    def parse_answer(self, answer: str, instance: Instance) -> list[int]:
        colours = parse_int_list(answer, "colours")
        if len(colours) != instance.data["n"]:
            raise AnswerFormatError(f"expected {instance.data['n']} colours, got {len(colours)}")
        return colours

    def check(self, instance: Instance, colours: list[int]) -> Verdict:
        k = instance.data["k"]
        for vertex, colour in enumerate(colours):
            if not 1 <= colour <= k:
                return reject("colour_range", f"vertex {vertex} has colour {colour}, not 1..{k}")
        for u, v in instance.data["edges"]:
            if colours[u] == colours[v]:
                return reject("edge", f"edge {u}-{v} joins two vertices of colour {colours[u]}")
        return accept()
