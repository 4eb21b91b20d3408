"""The scale-out runtime on Redis: API processes queue tasks on a stream, workers on any host run them.

    RedisExecutor     the API side (implements the executor contract)
    RedisWorker       the worker side (`referee worker`), hosting a local process pool
    RedisResultCache  the result cache shared by every API replica
"""

from verifiers.runtime.redis.cache import RedisResultCache
from verifiers.runtime.redis.executor import RedisExecutor
from verifiers.runtime.redis.protocol import Keys, connect
from verifiers.runtime.redis.worker import RedisWorker

__all__ = ["Keys", "RedisExecutor", "RedisResultCache", "RedisWorker", "connect"]
