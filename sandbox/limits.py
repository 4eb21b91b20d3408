"""Resource limits of one execution."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """What one run of an untrusted program may use. Defaults suit competitive-programming tests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_time_s: float = Field(5.0, gt=0, le=120, description="CPU seconds per process (RLIMIT_CPU)")
    wall_time_s: float = Field(10.0, gt=0, le=300, description="wall clock; the whole process tree is killed")
    memory_mb: int = Field(512, ge=16, le=16384, description="memory of the run (cgroup; RLIMIT_DATA fallback)")
    max_processes: int = Field(64, ge=1, le=4096, description="processes + threads at once")
    file_size_mb: int = Field(16, ge=0, le=4096, description="largest file a run may write (RLIMIT_FSIZE)")
    disk_mb: int = Field(64, ge=1, le=4096, description="size of each private tmpfs (/work, /tmp, /dev/shm)")
    open_files: int = Field(256, ge=16, le=65536, description="open file descriptors (RLIMIT_NOFILE)")
    stack_mb: int = Field(256, ge=1, le=4096, description="stack size (RLIMIT_STACK)")
    output_bytes: int = Field(1 << 20, ge=1024, le=64 << 20, description="stdout + stderr cap; over it is output_limit")

    def within(self, remaining_s: float | None) -> Limits:
        """These limits with wall and CPU time cut to `remaining_s` (None: unchanged); a deadline
        already past leaves a token 10 ms, so the run ends at once as a timeout."""
        if remaining_s is None or remaining_s >= self.wall_time_s:
            return self
        left = max(remaining_s, 0.01)
        return self.model_copy(update={"wall_time_s": left, "cpu_time_s": min(self.cpu_time_s, left)})

    def for_compile(self) -> Limits:
        """Compilers (rustc, javac) need more room than the programs they build."""
        return self.model_copy(update={
            "cpu_time_s": max(self.cpu_time_s, 30.0),
            "wall_time_s": max(self.wall_time_s, 60.0),
            "memory_mb": max(self.memory_mb, 2048),
            "max_processes": max(self.max_processes, 128),
            "file_size_mb": max(self.file_size_mb, 256),
            "disk_mb": max(self.disk_mb, 512),
            "output_bytes": max(self.output_bytes, 1 << 20),
        })
