"""A tiny random-weight LLaVA served by HF `transformers serve` on 127.0.0.1, for tests.

    with TinyLlavaServer(tmp_path) as server:
        client = openai.OpenAI(base_url=server.url, api_key="none")
        client.chat.completions.create(model=server.model, messages=[...], max_tokens=16, seed=7)

The model is built into `tmpdir/tiny-llava` (make_tiny_llava.py, about 5 s), then served with

    transformers serve DIR --host 127.0.0.1 --port PORT --device cpu

The positional DIR pins the server to that one model, loaded before the port opens, so a 200 from /health
means it is ready. Requests must name the model exactly as DIR was given (`.model`), or name none: any other
name is a 400. Facts of transformers 5.25's server this relies on or that callers should know:
one choice whatever `n` is; `logprobs`/`top_logprobs`/`presence_penalty` are ignored (a warning in the log);
fields outside the OpenAI schema (`top_k`, `min_p`, `repetition_penalty`, `min_tokens`, `ignore_eos`,
`return_token_ids`, ...) are a 422, but generate() settings can go in `generation_config`, a JSON *string*;
`seed` makes a request reproducible (torch.manual_seed in the model's process, before generate()).
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent


def build_tiny_llava(out_dir) -> dict:
    """Builds the model directory with make_tiny_llava.py (imported from beside this file)."""
    spec = importlib.util.spec_from_file_location("make_tiny_llava", HERE / "make_tiny_llava.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(str(out_dir))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(model_dir: str | None, port: int, extra_args=()) -> list[str]:
    """`transformers serve` as a command line: the console script beside this Python, else on PATH, else
    its entry point run by this Python. With `model_dir` None the server is not pinned to a model: each
    request's `model` names the one it loads (a local directory's path loads that directory)."""
    script = pathlib.Path(sys.executable).with_name("transformers")
    if script.exists():
        exe = [str(script)]
    elif shutil.which("transformers"):
        exe = [shutil.which("transformers")]
    else:
        exe = [sys.executable, "-c", "import sys; from transformers.cli.transformers import main; sys.exit(main())"]
    pinned = [model_dir] if model_dir is not None else []
    return [*exe, "serve", *pinned, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu", *extra_args]


class TinyLlavaServer:
    """Builds the tiny LLaVA into `tmpdir` and serves it; a context manager (or call start/stop).

    Attributes, once started: `url` (the OpenAI base URL, ending in /v1), `base_url` (without /v1), `model`
    (the name requests must use: the model directory's path), `model_dir`, `port`, `log_path`,
    `startup_seconds` (from launch to the first 200 of /health), `build_info`.
    """

    def __init__(self, tmpdir, startup_timeout: float = 120.0, extra_args=(), model_dir=None, pinned: bool = True):
        self.tmpdir = pathlib.Path(tmpdir)
        # Unpinned (`pinned=False`), the server starts with no model and loads whatever directory a request names,
        # each in a process of its own: /health answers before any model is loaded, and `model` is only the
        # directory this object was given (built here if missing), not the only one the server will answer for.
        self.pinned = pinned
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self.model_dir = str(model_dir) if model_dir is not None else str(self.tmpdir / "tiny-llava")
        self.log_path = self.tmpdir / "transformers-serve.log"
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self.startup_seconds: float | None = None
        self.build_info: dict | None = None
        self._log_file = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def model(self) -> str:
        return self.model_dir

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def get_json(self, path: str, timeout: float = 5.0):
        with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:
            return json.loads(response.read())

    def start(self) -> "TinyLlavaServer":
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        if not (pathlib.Path(self.model_dir) / "config.json").exists():
            self.build_info = build_tiny_llava(self.model_dir)
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1",
                   PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
        # A port picked free can be taken before the server binds it: try another a few times.
        for attempt in range(3):
            self.port = free_port()
            if self._launch(env):
                return self
            if "address already in use" not in self.log().lower() or attempt == 2:
                break
        self.stop()
        raise RuntimeError(f"transformers serve did not become healthy; its log ({self.log_path}):\n{self.log()[-6000:]}")

    def _launch(self, env) -> bool:
        """Starts the server and waits for /health. True once it answers 200; False if the process exits
        or the wait runs out (the process is then stopped)."""
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"$ {' '.join(serve_command(self.model_dir if self.pinned else None, self.port, self.extra_args))}\n".encode())
        self._log_file.flush()
        started = time.monotonic()
        self.process = subprocess.Popen(
            serve_command(self.model_dir if self.pinned else None, self.port, self.extra_args),
            stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,  # its own process group: stop() reaches the model's process too
        )
        deadline = started + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_log()
                return False
            try:
                with urllib.request.urlopen(self.base_url + "/health", timeout=2) as response:
                    if response.status == 200:
                        self.startup_seconds = time.monotonic() - started
                        return True
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the server (it stops its model's process), then SIGKILL to its group if it lingers."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            # the group is the server and the model's process it spawned: none of them may outlive the test
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "TinyLlavaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def png_data_url(color=(200, 10, 10), size=(40, 30), fmt: str = "PNG") -> str:
    """A plain image as a base64 data URL (PNG or JPEG)."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


if __name__ == "__main__":  # python3 tests/peer/tiny_llava_server.py [DIR]: serve until Ctrl+C
    import tempfile

    directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="tiny-llava-")
    with TinyLlavaServer(directory) as server:
        print(f"serving {server.model} at {server.url} (ready in {server.startup_seconds:.1f} s, log {server.log_path})")
        try:
            while server.process is not None and server.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
