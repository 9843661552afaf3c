"""The client side of the live fan-out benchmark: sockets read by a few processes (spawned, so each has its
own event loop and its own core time), each reporting when all of its sockets got a post.

Each reader raises its open-file limit to the hard limit (5,000 sockets need more than the usual 1,024), opens
its sockets in batches (as clients arriving), answers the server's `ping` with `pong` (a socket silent for two
ping intervals is closed as idle) and sends back, for each post, the monotonic time at which each of its
sockets received the event.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import resource
import time
from collections import Counter, defaultdict
from multiprocessing import connection

import websockets

BATCH = 100


def _raise_file_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _read(url: str, tokens: list[str], out: connection.Connection, stop: connection.Connection) -> None:
    sockets = []
    for start in range(0, len(tokens), BATCH):
        sockets += await asyncio.gather(
            *(
                websockets.connect(url, additional_headers={"Authorization": f"Bearer {t}"}, open_timeout=120)
                for t in tokens[start : start + BATCH]
            )
        )
    for socket in sockets:
        assert json.loads(await socket.recv())["type"] == "ready"
    out.send(("ready",))
    arrivals: dict[str, list[float]] = defaultdict(list)

    async def listen(socket) -> None:
        try:
            async for raw in socket:
                at = time.monotonic()
                message = json.loads(raw)
                if message["type"] == "post":
                    times = arrivals[message["postId"]]
                    times.append(at)
                    if len(times) == len(sockets):
                        out.send(("post", message["postId"], times))
                elif message["type"] == "ping":
                    await socket.send('{"type": "pong"}')
        except websockets.ConnectionClosed:
            pass
        if not stopping:
            out.send(("closed", f"{socket.close_code} {socket.close_reason}"))

    stopping = False
    tasks = [asyncio.create_task(listen(socket)) for socket in sockets]
    await asyncio.to_thread(stop.recv)
    stopping = True
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)


def _reader(url: str, tokens: list[str], out: connection.Connection, stop: connection.Connection) -> None:
    _raise_file_limit()
    asyncio.run(_read(url, tokens, out, stop))


class Readers:
    """``count`` reader processes sharing ``tokens``' sockets; a context manager (the processes end with it)."""

    def __init__(self, url: str, tokens: list[str], count: int) -> None:
        self.url = url
        self.chunks = [tokens[i::count] for i in range(count)]
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.outs: list[connection.Connection] = []
        self.stops: list[connection.Connection] = []
        self.closed: Counter[str] = Counter()
        self.posts: dict[str, list[list[float]]] = defaultdict(list)

    def __enter__(self) -> Readers:
        context = multiprocessing.get_context("spawn")
        for chunk in self.chunks:
            out_read, out_write = context.Pipe(duplex=False)
            stop_read, stop_write = context.Pipe(duplex=False)
            process = context.Process(target=_reader, args=(self.url, chunk, out_write, stop_read), daemon=True)
            process.start()
            self.processes.append(process)
            self.outs.append(out_read)
            self.stops.append(stop_write)
        ready = 0
        while ready < len(self.processes):
            for message in self._next(timeout=300):
                if message[0] == "ready":
                    ready += 1
        return self

    def _next(self, timeout: float) -> list[tuple]:
        """The messages that arrive next (raises when none arrives in time or a reader died)."""
        waiting = connection.wait(self.outs, timeout)
        if not waiting:
            dead = [p.exitcode for p in self.processes if not p.is_alive()]
            raise TimeoutError(f"no word from the socket readers in {timeout} s (exited: {dead})")
        messages = []
        for out in waiting:
            try:
                message = out.recv()
            except EOFError:
                raise RuntimeError("a socket reader died: see its traceback above") from None
            if message[0] == "closed":
                self.closed[message[1]] += 1
            elif message[0] == "post":
                self.posts[message[1]].append(message[2])
            else:
                messages.append(message)
        return messages

    def arrivals(self, post_id: str, timeout: float) -> list[float]:
        """When each socket received the post's event, once every reader has them all."""
        deadline = time.monotonic() + timeout
        while len(self.posts[post_id]) < len(self.processes):
            if self.closed:
                raise RuntimeError(f"sockets closed by the server: {dict(self.closed)}")
            left = deadline - time.monotonic()
            if left <= 0:
                got = len(self.posts[post_id])
                raise TimeoutError(f"post {post_id} reached {got} of {len(self.processes)} readers in time")
            self._next(left)
        return [at for times in self.posts.pop(post_id) for at in times]

    def __exit__(self, *_: object) -> None:
        for stop in self.stops:
            try:
                stop.send("stop")
            except OSError:
                pass
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
