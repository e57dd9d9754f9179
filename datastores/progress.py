"""Progress of a transfer, on stderr (stdout stays clean for scripts).

Three ways to show it, chosen per transfer:

- **bar**: a rich progress bar (files, bytes, speed, time left) when stderr is a terminal and the
  transfer is large (at least ``LARGE_FILES`` files or ``LARGE_BYTES`` bytes);
- **lines**: Azure's plain lines otherwise: a first line, one line per file, a last line. For a
  large transfer the per-file lines become one summary line every ``LINE_INTERVAL`` seconds, so
  a log of 100,000 uploads stays readable;
- **off**: ``show_progress=False``.

``AMLOCAL_PROGRESS=bar|lines|off`` overrides the choice (``off`` silences every transfer). rich
is imported only for a bar; without rich, lines are shown.
"""
from __future__ import annotations

import os
import sys
import threading
import time

LARGE_FILES = 100
LARGE_BYTES = 64 * 1024 * 1024
LINE_INTERVAL = 5.0
ENV = "AMLOCAL_PROGRESS"


def human_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class Progress:
    """``with Progress("upload", files, total_bytes, show) as p: ... p.file_done(label, size)``.

    ``verb`` is ``"upload"`` or ``"download"``. ``callback()`` gives an fsspec callback for the
    bytes of the file being copied (None unless a bar is shown). Safe to use from several threads.
    """

    def __init__(self, verb: str, total_files: int, total_bytes: int | None = None,
                 show: bool = True, stream=None, what: str = "files"):
        self.verb = verb
        self.total_files = total_files
        self.total_bytes = total_bytes or 0
        self.stream = stream if stream is not None else sys.stderr
        self.what = what
        self.files = 0
        self.bytes = 0
        self.mode = self._choose(show)
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_line = self._started
        self._bar = None
        self._task = None

    # -- choosing ---------------------------------------------------------------------------
    @property
    def large(self) -> bool:
        return self.total_files >= LARGE_FILES or self.total_bytes >= LARGE_BYTES

    def _choose(self, show: bool) -> str:
        forced = os.environ.get(ENV, "").strip().lower()
        if not show or forced == "off":
            return "off"
        if forced in ("bar", "lines"):
            return forced if forced == "lines" or _has_rich() else "lines"
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        return "bar" if tty and self.large and _has_rich() else "lines"

    # -- the transfer -----------------------------------------------------------------------
    def __enter__(self) -> "Progress":
        if self.mode == "bar":
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn,
                                       TransferSpeedColumn)
            console = Console(file=self.stream, highlight=False, markup=False)
            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                TransferSpeedColumn(), TextColumn("{task.fields[files]}"), TimeRemainingColumn(),
                console=console, transient=False)
            self._bar.start()
            self._task = self._bar.add_task(
                f"{self._ing()} {self.total_files} {self.what}", total=self.total_bytes or None,
                files=f"0/{self.total_files} {self.what}")
        elif self.mode == "lines":
            size = f" ({human_bytes(self.total_bytes)})" if self.total_bytes else ""
            if self.verb == "upload":   # Azure's own wording
                self._line(f"Uploading an estimated of {self.total_files} {self.what}{size}")
            else:
                self._line(f"Downloading {self.total_files} {self.what}{size}")
        return self

    def callback(self):
        """An fsspec Callback that advances the bar by the bytes of the current file, or None."""
        if self.mode != "bar":
            return None
        from fsspec.callbacks import Callback
        state = {"seen": 0}

        def hook(size, value, **_kwargs):
            delta = (value or 0) - state["seen"]
            if delta > 0:
                state["seen"] = value
                with self._lock:
                    self.bytes += delta
                self._bar.update(self._task, advance=delta)
        callback = Callback(hooks={"amlocal": hook})
        callback._amlocal_state = state
        return callback

    def file_done(self, label: str, size: int | None = None, callback=None) -> None:
        """One file is copied; ``callback`` is the one :meth:`callback` gave for it (its bytes
        already counted are not counted twice)."""
        size = size or 0
        counted = callback._amlocal_state["seen"] if callback is not None else 0
        with self._lock:
            self.files += 1
            self.bytes += max(0, size - counted)
            files, done_bytes = self.files, self.bytes
        if self.mode == "bar":
            self._bar.update(self._task, advance=max(0, size - counted),
                             files=f"{files}/{self.total_files} {self.what}")
        elif self.mode == "lines":
            if not self.large:
                self._line(f"{self._past()} {label}, {files} {self.what} out of an estimated "
                           f"total of {self.total_files}")
            elif time.monotonic() - self._last_line >= LINE_INTERVAL:
                self._line(self._summary(files, done_bytes))

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
        if self.mode != "off" and exc[0] is None:
            elapsed = time.monotonic() - self._started
            extra = (f" ({human_bytes(self.bytes)} in {elapsed:.1f} s)"
                     if self.large or self.mode == "bar" else "")
            self._line(f"{self._past()} {self.files} {self.what}{extra}")

    # -- internals --------------------------------------------------------------------------
    def _summary(self, files: int, done_bytes: int) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        total = f" of {human_bytes(self.total_bytes)}" if self.total_bytes else ""
        return (f"{self._past()} {files} of {self.total_files} {self.what} "
                f"({human_bytes(done_bytes)}{total}, {human_bytes(done_bytes / elapsed)}/s)")

    def _past(self) -> str:
        return "Uploaded" if self.verb == "upload" else "Downloaded"

    def _ing(self) -> str:
        return "Uploading" if self.verb == "upload" else "Downloading"

    def _line(self, text: str) -> None:
        self._last_line = time.monotonic()
        print(text, file=self.stream, flush=True)


def _has_rich() -> bool:
    try:
        import rich.progress  # noqa: F401
        return True
    except ImportError:
        return False
