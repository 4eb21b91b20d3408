"""Procedural environments: seeded, difficulty-controlled instance generators and their scorers.

    from envs import get_environment
    env = get_environment("subset_sum")
    inst = env.sample(seed=1)
    env.score(inst, "<answer>3, 17, 22</answer>")
"""

from envs.base import (AnswerFormatError, EnvConfig, Environment, GenerationBudgetExceeded, Instance,
                       Problem)
from envs.ids import InstanceIdError
from envs.registry import UnknownEnvironmentError, all_environments, env_verifiers, get_environment

__all__ = [
    "AnswerFormatError",
    "EnvConfig",
    "Environment",
    "GenerationBudgetExceeded",
    "Instance",
    "InstanceIdError",
    "Problem",
    "UnknownEnvironmentError",
    "all_environments",
    "env_verifiers",
    "get_environment",
]
