"""Multi-turn environment sessions over the Open Reward Standard (ORS), mounted at `/v1/ors`.

    routes.py        the HTTP endpoints (discovery, sessions, SSE tool calls)
    service.py       what one process holds: catalog, session store, interpreters
    catalog.py       the environments served: procedural environments and task files
    config.py        per-environment options, splits (seed ranges), task files
    episodes.py      one episode: submit, "try again", rewards, the final verdict
    sessions.py      live sessions: bound, idle expiry, ownership, tombstones
    interpreters.py  the run_python tool's persistent sandboxed interpreters
    sse.py           Server-Sent Events framing (task_id, chunk, end, error, pings)
"""
