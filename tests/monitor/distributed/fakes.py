"""Loopback stand-ins for the distributed tests: a model-free scorer and a TCP proxy in front of RabbitMQ.

:class:`MarkedScorer` judges every text negative at once, but each batch first leaves a marker file
``<data_dir>/markers/scoring-<pid>`` and then takes ``<data_dir>/score_seconds`` (default 0.05 s), so a
test can see which worker process is scoring and kill it mid-batch. Workers load it with
``scorer_factory="tests.monitor.distributed.fakes:MarkedScorer"``.

:class:`TcpProxy` forwards 127.0.0.1:<port> to the broker; :meth:`TcpProxy.drop_all` closes every
connection it carries, as a broken network would, while still accepting new ones (so clients reconnect).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from monitor.distributed.celery_app import STATE
from sentiment.analysis import Analysis, MentionText
from sentiment.scorer import SentimentResult
from sentiment.urgency import Urgency


class MarkedScorer:
    def __init__(self) -> None:
        data_dir = STATE.require_settings().data_dir
        self.markers = data_dir / "markers"
        self.markers.mkdir(parents=True, exist_ok=True)
        delay_file = data_dir / "score_seconds"
        self.seconds = float(delay_file.read_text()) if delay_file.exists() else 0.05

    def analyze(self, items: Sequence[MentionText]) -> list[Analysis]:
        (self.markers / f"scoring-{os.getpid()}").write_text(str(len(items)))
        time.sleep(self.seconds)
        result = SentimentResult("negative", -0.8, 0.9, {"negative": 0.9}, "pl", "fake", "1")
        return [Analysis(result, "text", Urgency("none", ()), ()) for _ in items]


def scoring_pids(data_dir: Path) -> list[int]:
    return [int(p.name.split("-", 1)[1]) for p in (data_dir / "markers").glob("scoring-*")]


class TcpProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self.dropped = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def drop_all(self) -> int:
        """Cut every carried connection (RST-like: shut down both ways); returns how many were open."""
        with self._lock:
            carried, self._open = self._open, []
        for s in carried:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.dropped += len(carried) // 2
        return len(carried) // 2

    def close(self) -> None:
        self._stop = True
        self._server.close()
        self.drop_all()
