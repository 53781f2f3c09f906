"""A Hugging Face Hub on localhost for the download tests (HF_ENDPOINT points huggingface_hub at it): the two
endpoints snapshot_download uses, over folders of tiny files, with gated repos and a log of what was downloaded.

    GET  /api/models/<owner>/<name>[/revision/<rev>]   {"id", "sha", "siblings": [{"rfilename"}], "gated"}
    GET  /api/models/<owner>/<name>/auth-check         200, or 401 for a gated repo without its token
    HEAD /<owner>/<name>/resolve/<rev>/<path>          X-Repo-Commit, ETag, Content-Length
    GET  /<owner>/<name>/resolve/<rev>/<path>          the file

As on the hub, a gated repo's listing is public; its files and auth-check answer 401 with X-Error-Code:
GatedRepo unless `Authorization: Bearer <token>`.
The files are real; only the network is local. Nothing here decides which files our code asks for.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


@dataclass
class HostedRepo:
    folder: Path
    token: str | None = None  # gated: this token is needed
    sha: str = field(init=False)

    def __post_init__(self):
        self.sha = hashlib.sha1(str(self.folder).encode()).hexdigest()

    def files(self) -> list[str]:
        return sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*") if p.is_file())


class HubServer:
    def __init__(self, repos: dict[str, HostedRepo]):
        self.repos = repos
        self.downloads: list[tuple[str, str]] = []  # (repo id, file) of every GET of a file
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _deny(self, repo: HostedRepo) -> bool:
                if repo.token is None or self.headers.get("Authorization") == f"Bearer {repo.token}":
                    return False
                self.send_response(401)
                self.send_header("X-Error-Code", "GatedRepo")
                self.send_header("X-Error-Message", "Access to this model is restricted. You must have access to it and be authenticated.")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True

            def _not_found(self):
                self.send_response(404)
                self.send_header("X-Error-Code", "RepoNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _route(self):
                parts = [unquote(p) for p in urlparse(self.path).path.strip("/").split("/")]
                if parts[:2] == ["api", "models"] and len(parts) == 5 and parts[4] == "auth-check":
                    return "auth", "/".join(parts[2:4]), None
                if parts[:2] == ["api", "models"] and len(parts) >= 4:
                    return "info", "/".join(parts[2:4]), None
                if len(parts) >= 5 and parts[2] == "resolve":
                    return "file", "/".join(parts[:2]), "/".join(parts[4:])
                return None, None, None

            def _serve(self, body: bool):
                kind, repo_id, name = self._route()
                repo = server.repos.get(repo_id)
                if repo is None:
                    return self._not_found()
                if kind != "info" and self._deny(repo):
                    return
                if kind == "auth":
                    data, headers = b"{}", {"Content-Type": "application/json"}
                elif kind == "info":
                    data = json.dumps({"id": repo_id, "sha": repo.sha, "gated": repo.token is not None and "manual",
                                       "siblings": [{"rfilename": f} for f in repo.files()]}).encode()
                    headers = {"Content-Type": "application/json"}
                elif kind == "file" and (repo.folder / name).is_file():
                    data = (repo.folder / name).read_bytes()
                    headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
                    if body:
                        server.downloads.append((repo_id, name))
                else:
                    return self._not_found()
                self.send_response(200)
                for key, value in {**headers, "Content-Length": str(len(data))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_GET(self):
                self._serve(body=True)

            def do_HEAD(self):
                self._serve(body=False)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
