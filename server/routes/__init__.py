"""HTTP route modules; each exposes `router = fastapi.APIRouter(route_class=StrictJSONRoute)`
(from `server.routes.deps`: JSON bodies are parsed strictly, so NaN and Infinity are a 422).
Listed here to be mounted."""

ROUTE_MODULES = [
    "health",
    "registry",
    "custom_verifiers",
    "sandbox",
    "verify",
    "envs",
    "compat_openrlhf",
    "compat_slime",
    "compat_nemo_gym",
    "compat_sandbox_fusion",
]
