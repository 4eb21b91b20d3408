"""HTTP route modules; each exposes `router = fastapi.APIRouter()`. Listed here to be mounted."""

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
