"""Running verifiers at scale: the executor interface, the process pool, the cache, batch scoring."""

from verifiers.runtime.cache import MemoryLRUCache, ResultCache
from verifiers.runtime.executor import Executor
from verifiers.runtime.local import LocalScorer, verify_batch
from verifiers.runtime.pool import ProcessPool
from verifiers.runtime.scorer import Scorer

__all__ = ["Executor", "LocalScorer", "MemoryLRUCache", "ProcessPool", "ResultCache", "Scorer", "verify_batch"]
