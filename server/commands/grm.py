"""`referee grm serve` runs the generative reward model service; `referee grm convert` turns a GGUF file
into a Hugging Face model directory."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    grm = subparsers.add_parser("grm", help="the generative reward model (GRM) service")
    actions = grm.add_subparsers(dest="grm_command", required=True)

    serve = actions.add_parser("serve", help="load a reward model and serve POST /v1/grm/score")
    serve.add_argument("--model", help="Hugging Face model directory or .gguf file (or $REFEREE_GRM_MODEL)")
    serve.add_argument("--device", help="auto (default: CUDA when present, else CPU), cpu, cuda, cuda:N")
    serve.add_argument("--dtype", help="auto (default: bfloat16 on CUDA, float32 on CPU), float32, bfloat16, float16")
    serve.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8100)")
    serve.add_argument("--max-batch", type=int, dest="max_batch", help="items per generation batch (default 8)")
    serve.add_argument("--max-wait-ms", type=float, dest="max_wait_ms",
                       help="how long a batch waits for more items (default 20)")
    serve.add_argument("--max-new-tokens", type=int, dest="max_new_tokens",
                       help="longest critique a request may ask for (default 512)")
    serve.add_argument("--default-new-tokens", type=int, dest="default_new_tokens",
                       help="critique length when a request names none (default 256)")
    serve.add_argument("--max-input-tokens", type=int, dest="max_input_tokens",
                       help="longest grading prompt accepted (default 4096)")
    serve.add_argument("--allow-no-auth", action="store_true", default=None,
                       help="serve on a non-loopback address without API keys")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=run_serve)

    convert = actions.add_parser("convert", help="write a GGUF model as a Hugging Face directory")
    convert.add_argument("gguf", help="path of the .gguf file")
    convert.add_argument("out", help="directory to write")
    convert.set_defaults(handler=run_convert)


MISSING_EXTRA = ("the GRM service needs torch and transformers: install the build of torch for your "
                 "hardware, then pip install 'referee[grm]'")


def _require_model_stack() -> None:
    import importlib.util

    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(f"referee grm: {', '.join(missing)} not installed; {MISSING_EXTRA}")


def run_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    _require_model_stack()
    from server.grm.app import create_grm_app
    from server.grm.model import ModelLoadError
    from server.grm.settings import GRMSettings

    logging.basicConfig(level=args.log_level.upper())
    overrides = {k: v for k, v in vars(args).items() if k in GRMSettings.model_fields and v is not None}
    settings = GRMSettings(**overrides)
    settings.check_auth_config()
    try:
        app = create_grm_app(settings)
    except (ModelLoadError, ValueError) as exc:
        raise SystemExit(f"referee grm serve: {exc}") from None
    # After the grace period, requests still waiting are cut off and the running batch stops
    # at its next token, so a stop never waits for a long generation to finish.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level, access_log=False,
                timeout_graceful_shutdown=10)
    return 0


def run_convert(args: argparse.Namespace) -> int:
    _require_model_stack()
    from server.grm.model import ModelLoadError, convert_gguf

    try:
        out = convert_gguf(args.gguf, args.out)
    except ModelLoadError as exc:
        raise SystemExit(f"referee grm convert: {exc}") from None
    print(out)
    return 0
