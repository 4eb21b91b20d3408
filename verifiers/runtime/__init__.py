"""Running verifiers at scale: tasks, the one result path, executors, the cache, batch scoring."""

from verifiers.runtime.cache import MemoryLRUCache, ResultCache
from verifiers.runtime.executor import Executor, Overloaded, Unavailable
from verifiers.runtime.finalize import finalize
from verifiers.runtime.local import LocalScorer, verify_batch
from verifiers.runtime.pool import ProcessPool
from verifiers.runtime.scorer import Scorer
from verifiers.runtime.task import Task
from verifiers.runtime.worker import arun_task, run_task

__all__ = ["Executor", "LocalScorer", "MemoryLRUCache", "Overloaded", "ProcessPool", "ResultCache", "Scorer",
           "Task", "Unavailable", "arun_task", "finalize", "run_task", "verify_batch"]
