"""A loopback HTTP server playing the parts of the Hub's API that `create_repo` and `upload_folder` use.

It records every file a commit carries, so tests can assert on what arrived. Only 127.0.0.1, only while a test runs.
"""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeHub:
    def __init__(self):
        self.repos: set[str] = set()
        self.files: dict[str, dict[str, bytes]] = {}  # repo id -> path -> content
        self.commit_messages: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _reply(self, payload, status=200):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_POST(self):
                body = self._body()
                path = self.path.split("?")[0]
                if path == "/api/repos/create":
                    request = json.loads(body)
                    repo_id = (
                        f"{request['organization']}/{request['name']}"
                        if request.get("organization")
                        else request["name"]
                    )
                    hub.repos.add(repo_id)
                    hub.files.setdefault(repo_id, {})
                    return self._reply({"url": f"{hub.endpoint}/{repo_id}", "name": repo_id})
                if path == "/api/validate-yaml":
                    return self._reply({"errors": [], "warnings": []})
                if "/preupload/" in path:
                    files = json.loads(body)["files"]
                    return self._reply(
                        {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
                    )
                if "/commit/" in path:
                    repo_id = path.split("/api/models/")[1].split("/commit/")[0]
                    if repo_id not in hub.repos:
                        return self._reply({"error": f"repository {repo_id} not found"}, status=404)
                    for line in body.decode().splitlines():
                        entry = json.loads(line)
                        if entry["key"] == "header":
                            hub.commit_messages.append(entry["value"]["summary"])
                        elif entry["key"] == "file":
                            hub.files[repo_id][entry["value"]["path"]] = base64.b64decode(entry["value"]["content"])
                    return self._reply(
                        {
                            "commitUrl": f"{hub.endpoint}/{repo_id}/commit/1",
                            "commitOid": "1" * 40,
                            "pullRequestUrl": None,
                        }
                    )
                return self._reply({"error": f"unexpected POST {path}"}, status=404)

            def do_GET(self):
                return self._reply({"error": f"unexpected GET {self.path}"}, status=404)

        return Handler
