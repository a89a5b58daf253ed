"""A small local stand-in for the Hugging Face Hub, for tests: the real ``huggingface_hub``
client (and ``datasets.push_to_hub``) talk to it over HTTP and it keeps what they send.

No Hub is reachable from the machines the tests run on, so ``align publish`` is tested against
this server with ``HfApi(endpoint=hub.url)``. It implements the subset of the Hub's HTTP API
that the installed client (huggingface_hub 1.x, datasets 4.x) calls to create repos, commit
files, upload LFS objects and read files back:

=======  ==========================================================  ===========================
method   path                                                        used by
=======  ==========================================================  ===========================
POST     /api/repos/create                                           create_repo
GET      /api/{models,datasets}/{repo}[/revision/{rev}]              repo_info (datasets)
POST     /api/{models,datasets}/{repo}/branch/{branch}               create_branch
POST     /api/validate-yaml                                          create_commit (README.md)
POST     /api/{models,datasets}/{repo}/preupload/{rev}               preupload: regular or LFS
POST     /[datasets/]{repo}.git/info/lfs/objects/batch               LFS batch, "basic" transfer
PUT      /lfs-objects/{oid}                                          LFS upload (the batch href)
POST     /api/{models,datasets}/{repo}/commit/{rev}                  create_commit (NDJSON)
GET      /api/{models,datasets}/{repo}/tree/{rev}[/{path}]           list_repo_tree, HfFileSystem
POST     /api/{models,datasets}/{repo}/paths-info/{rev}              get_paths_info, HfFileSystem
GET/HEAD /[datasets/]{repo}/resolve/{rev}/{path}                     hf_hub_download, HfFileSystem
=======  ==========================================================  ===========================

What it does like the Hub: repos with branches and commits (every commit a full snapshot);
``409`` for an existing repo or branch; write calls need ``Authorization: Bearer <token>``
(``401`` otherwise); private repos are hidden without it; the preupload answer says "lfs" for
binary files, known binary suffixes and files over 5 MiB, and gives the ``oid`` of the file
already at a path (so unchanged files are skipped); the LFS batch answer gives no upload action
for an object it already holds (so a retried upload skips what arrived before); an upload whose
bytes do not hash to its oid is refused; a commit naming an LFS object that never arrived is
refused; ``parentCommit`` is checked (``412``); the errors carry the Hub's ``X-Error-Code``
(RepoNotFound, RevisionNotFound, EntryNotFound) so the client raises its own exception types.

Not implemented: the Xet storage protocol (tests set ``HF_HUB_DISABLE_XET`` so the client takes
the LFS path; against the real Hub it uploads through Xet when ``hf_xet`` is installed),
multipart LFS, pull requests, copies, pagination, and the Hub's full metadata validation
(``validate-yaml`` here checks that the front matter is a YAML mapping, that the license is a
known id or ``other`` with a name, that tags are strings and that ``model-index`` parses with
huggingface_hub's own reader).

Failures for tests: ``hub.fail("PUT", "/lfs-objects/", times=2)`` answers the next two matching
requests with 500 (``status=None`` drops the connection without an answer instead).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".gguf", ".bin", ".parquet", ".png", ".pt", ".arrow")
REGULAR_LIMIT = 5 * 2**20
LICENSES = ("apache-2.0", "mit", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "other")
API = re.compile(r"^/api/(models|datasets)/([^/]+/[^/]+?)(?:/(.*))?$")
LFS_BATCH = re.compile(r"^/(datasets/)?([^/]+/[^/]+)\.git/info/lfs/objects/batch$")
RESOLVE = re.compile(r"^/(datasets/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


@dataclass
class StoredFile:
    content: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def git_oid(self) -> str:
        """The git blob id of the file, or of its LFS pointer."""
        data = self.pointer() if self.lfs else self.content
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def pointer(self) -> bytes:
        return (
            "version https://git-lfs.github.com/spec/v1\n"
            f"oid sha256:{self.sha256}\nsize {len(self.content)}\n"
        ).encode()


@dataclass
class Commit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, StoredFile]
    description: str = ""


@dataclass
class Repo:
    repo_type: str  # "model" or "dataset"
    repo_id: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit oid

    def resolve(self, revision: str) -> Commit | None:
        oid = self.branches.get(revision, revision)
        return self.commits.get(oid)


@dataclass
class Failure:
    method: str
    path_part: str
    times: int
    status: int | None  # None: drop the connection without an answer


class HubError(Exception):
    def __init__(
        self, status: int, message: str, code: str | None = None, payload: dict | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.payload = payload or {"error": message}


class FakeHub:
    """The server's state and its thread. Use as a context manager; ``url`` is the endpoint."""

    def __init__(self, token: str):
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.failures: list[Failure] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what tests read and arrange ----------------------------------------------------

    def fail(self, method: str, path_part: str, times: int = 1, status: int | None = 500) -> None:
        with self.lock:
            self.failures.append(Failure(method, path_part, times, status))

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo | None:
        return self.repos.get((repo_type, repo_id))

    def files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict:
        """path -> bytes at ``revision``; {} when the repo or revision does not exist."""
        repo = self.repo(repo_id, repo_type)
        commit = repo.resolve(revision) if repo else None
        return {path: f.content for path, f in commit.files.items()} if commit else {}

    def history(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> list:
        """Commits from the newest back to the first."""
        repo = self.repo(repo_id, repo_type)
        commits, commit = [], repo.resolve(revision) if repo else None
        while commit is not None:
            commits.append(commit)
            commit = repo.commits.get(commit.parent) if commit.parent else None
        return commits

    def count(self, method: str, path_part: str) -> int:
        return sum(m == method and path_part in p for m, p in self.requests)

    # --- request handling ---------------------------------------------------------------

    def take_failure(self, method: str, path: str) -> Failure | None:
        with self.lock:
            self.requests.append((method, path))
            for failure in self.failures:
                if failure.method == method and failure.path_part in path and failure.times > 0:
                    failure.times -= 1
                    return failure
        return None

    def authorized(self, headers) -> bool:
        return headers.get("Authorization") == f"Bearer {self.token}"

    def require_auth(self, headers) -> None:
        if not self.authorized(headers):
            raise HubError(401, "Invalid credentials in Authorization header")

    def find_repo(self, repo_type: str, repo_id: str, headers) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and not self.authorized(headers)):
            raise HubError(404, f"Repository not found: {repo_id}", "RepoNotFound")
        return repo

    def find_commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    def repo_url(self, repo: Repo) -> str:
        prefix = "datasets/" if repo.repo_type == "dataset" else ""
        return f"{self.url}/{prefix}{repo.repo_id}"

    def create_repo(self, body: dict, headers) -> dict:
        self.require_auth(headers)
        repo_type = body.get("type") or "model"
        repo_id = f"{body['organization']}/{body['name']}" if body.get("organization") else None
        if repo_id is None:
            raise HubError(400, "a namespace is required")
        with self.lock:
            if (repo_type, repo_id) in self.repos:
                url = self.repo_url(self.repos[(repo_type, repo_id)])
                message = "You already created this repo"
                raise HubError(409, message, payload={"error": message, "url": url})
            repo = Repo(repo_type, repo_id, body.get("visibility") == "private")
            first = Commit(hashlib.sha1(repo_id.encode()).hexdigest(), None, "initial commit", {})
            repo.commits[first.oid] = first
            repo.branches["main"] = first.oid
            self.repos[(repo_type, repo_id)] = repo
        return {"url": self.repo_url(repo), "name": repo_id}

    def repo_info(self, repo: Repo, revision: str) -> dict:
        commit = self.find_commit(repo, revision)
        return {
            "id": repo.repo_id,
            "sha": commit.oid,
            "private": repo.private,
            "siblings": [{"rfilename": path} for path in sorted(commit.files)],
        }

    def create_branch(self, repo: Repo, branch: str, headers) -> dict:
        self.require_auth(headers)
        with self.lock:
            if branch in repo.branches:
                raise HubError(409, f"Reference already exists: {branch}")
            repo.branches[branch] = repo.branches["main"]
        return {}

    def preupload(self, repo: Repo, revision: str, body: dict, headers) -> dict:
        self.require_auth(headers)
        commit = repo.resolve(revision)
        existing = commit.files if commit else {}
        answers = []
        for entry in body["files"]:
            sample = base64.b64decode(entry["sample"])
            lfs = (
                entry["path"].endswith(LFS_SUFFIXES)
                or entry["size"] > REGULAR_LIMIT
                or b"\0" in sample
            )
            answer = {"path": entry["path"], "uploadMode": "lfs" if lfs else "regular"}
            answer["shouldIgnore"] = False
            old = existing.get(entry["path"])
            if old is not None:
                answer["oid"] = old.sha256 if lfs else old.git_oid
            answers.append(answer)
        return {"files": answers, "commitOid": commit.oid if commit else None}

    def lfs_batch(self, body: dict, headers) -> dict:
        self.require_auth(headers)
        objects = []
        for entry in body["objects"]:
            answer = {"oid": entry["oid"], "size": entry["size"], "authenticated": True}
            if entry["oid"] not in self.lfs_objects:
                href = f"{self.url}/lfs-objects/{entry['oid']}?size={entry['size']}"
                answer["actions"] = {"upload": {"href": href}}
            objects.append(answer)
        return {"transfer": "basic", "objects": objects}

    def lfs_put(self, oid: str, size: int, data: bytes) -> dict:
        if len(data) != size or hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, f"the uploaded bytes do not match oid {oid} and size {size}")
        with self.lock:
            self.lfs_objects[oid] = data
        return {}

    def commit(self, repo: Repo, revision: str, lines: list[dict], headers) -> dict:
        self.require_auth(headers)
        header = lines[0]["value"] if lines and lines[0]["key"] == "header" else None
        if header is None:
            raise HubError(400, "the commit payload must start with a header line")
        with self.lock:
            parent = self.find_commit(repo, revision)
            if header.get("parentCommit") and header["parentCommit"] != parent.oid:
                raise HubError(412, "parentCommit is not the head of the branch")
            files = dict(parent.files)
            for line in lines[1:]:
                value = line["value"]
                if line["key"] == "file":
                    files[value["path"]] = StoredFile(base64.b64decode(value["content"]), False)
                elif line["key"] == "lfsFile":
                    data = self.lfs_objects.get(value["oid"])
                    if data is None:
                        raise HubError(422, f"LFS object {value['oid']} was never uploaded")
                    files[value["path"]] = StoredFile(data, True)
                elif line["key"] == "deletedFile":
                    files.pop(value["path"], None)
                elif line["key"] == "deletedFolder":
                    folder = value["path"].rstrip("/") + "/"
                    files = {p: f for p, f in files.items() if not p.startswith(folder)}
                else:
                    raise HubError(400, f"unknown commit operation {line['key']!r}")
            digest = hashlib.sha1(parent.oid.encode() + header["summary"].encode())
            for path in sorted(files):
                digest.update(path.encode() + files[path].sha256.encode())
            commit = Commit(
                digest.hexdigest(),
                parent.oid,
                header["summary"],
                files,
                header.get("description", ""),
            )
            repo.commits[commit.oid] = commit
            branch = revision if revision in repo.branches else None
            if branch is None:
                raise HubError(400, f"{revision} is not a branch")
            repo.branches[branch] = commit.oid
        return {
            "success": True,
            "commitOid": commit.oid,
            "commitUrl": f"{self.repo_url(repo)}/commit/{commit.oid}",
            "hookOutput": "",
        }

    def tree(self, repo: Repo, revision: str, path: str, recursive: bool) -> list[dict]:
        commit = self.find_commit(repo, revision)
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        if prefix and not any(p.startswith(prefix) for p in commit.files):
            raise HubError(404, f"{path} does not exist", "EntryNotFound")
        entries, folders = [], set()
        for file_path in sorted(commit.files):
            if not file_path.startswith(prefix):
                continue
            rest = file_path[len(prefix) :].split("/")
            for depth in range(1, len(rest)):
                folder = prefix + "/".join(rest[:depth])
                if folder not in folders and (recursive or depth == 1):
                    folders.add(folder)
                    entries.append(folder_entry(folder))
            if recursive or len(rest) == 1:
                entries.append(file_entry(file_path, commit.files[file_path]))
        return entries

    def paths_info(self, repo: Repo, revision: str, paths: list[str]) -> list[dict]:
        commit = self.find_commit(repo, revision)
        entries = []
        for path in paths:
            path = path.strip("/")
            if path in commit.files:
                entries.append(file_entry(path, commit.files[path]))
            elif any(p.startswith(path + "/") for p in commit.files):
                entries.append(folder_entry(path))
        return entries

    def validate_yaml(self, body: dict) -> dict:
        import yaml

        content = body.get("content", "")
        match = re.match(r"^---\s*\n(.*?)\n---\s*\n", content, re.S)
        errors = []
        try:
            metadata = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as error:
            raise HubError(400, f"YAML front matter does not parse: {error}") from error
        if not isinstance(metadata, dict):
            errors.append('"metadata" must be a YAML mapping')
            metadata = {}
        license_id = metadata.get("license")
        if license_id is not None and license_id not in LICENSES:
            errors.append(f'"license" must be one of {LICENSES}')
        if license_id == "other" and not metadata.get("license_name"):
            errors.append('"license_name" is required with license "other"')
        tags = metadata.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            errors.append('"tags" must be a list of strings')
        if "model-index" in metadata:
            from huggingface_hub.repocard_data import model_index_to_eval_results

            try:
                model_index_to_eval_results(metadata["model-index"])
            except (KeyError, TypeError, ValueError) as error:
                errors.append(f'"model-index" does not parse: {error!r}')
        if errors:
            raise HubError(400, "; ".join(errors), payload={"errors": errors})
        return {"errors": [], "warnings": []}


def file_entry(path: str, stored: StoredFile) -> dict:
    entry = {"type": "file", "path": path, "size": len(stored.content), "oid": stored.git_oid}
    if stored.lfs:
        entry["lfs"] = {
            "oid": stored.sha256,
            "size": len(stored.content),
            "pointerSize": len(stored.pointer()),
        }
    return entry


def folder_entry(path: str) -> dict:
    return {"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest()}


def _handler_for(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: pytest shows what matters
            pass

        def do_GET(self) -> None:
            self.handle_request("GET")

        def do_HEAD(self) -> None:
            self.handle_request("HEAD")

        def do_POST(self) -> None:
            self.handle_request("POST")

        def do_PUT(self) -> None:
            self.handle_request("PUT")

        def read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def handle_request(self, method: str) -> None:
            url = urlsplit(self.path)
            body = self.read_body() if method in ("POST", "PUT") else b""
            failure = hub.take_failure(method, url.path)
            if failure is not None:
                if failure.status is None:  # a dropped connection: no answer at all
                    self.close_connection = True
                    return
                self.send_json(failure.status, {"error": "injected failure"})
                return
            try:
                self.route(method, url.path, parse_qs(url.query), body)
            except HubError as error:
                headers = {"X-Error-Message": error.message}
                if error.code:
                    headers["X-Error-Code"] = error.code
                self.send_json(error.status, error.payload, headers)

        def route(self, method: str, path: str, query: dict, body: bytes) -> None:
            headers = self.headers
            if method == "POST" and path == "/api/repos/create":
                return self.send_json(200, hub.create_repo(json.loads(body), headers))
            if method == "POST" and path == "/api/validate-yaml":
                return self.send_json(200, hub.validate_yaml(json.loads(body)))
            if method == "PUT" and path.startswith("/lfs-objects/"):
                oid = path.rsplit("/", 1)[1]
                return self.send_json(200, hub.lfs_put(oid, int(query["size"][0]), body))
            match = LFS_BATCH.match(path)
            if method == "POST" and match:
                hub.find_repo("dataset" if match[1] else "model", match[2], headers)
                return self.send_json(200, hub.lfs_batch(json.loads(body), headers))
            match = RESOLVE.match(path)
            if method in ("GET", "HEAD") and match:
                repo = hub.find_repo("dataset" if match[1] else "model", match[2], headers)
                return self.send_file(repo, unquote(match[3]), unquote(match[4]), method)
            match = API.match(path)
            if match:
                repo_type = "model" if match[1] == "models" else "dataset"
                repo = hub.find_repo(repo_type, match[2], headers)
                return self.route_api(method, repo, match[3] or "", query, body)
            raise HubError(404, f"not implemented by the fake hub: {method} {path}")

        def route_api(self, method: str, repo: Repo, rest: str, query: dict, body: bytes):
            headers = self.headers
            action, _, tail = rest.partition("/")
            revision, _, sub_path = tail.partition("/")
            revision, sub_path = unquote(revision), unquote(sub_path)
            if method == "GET" and action in ("", "revision"):
                return self.send_json(200, hub.repo_info(repo, revision or "main"))
            if method == "POST" and action == "branch":
                return self.send_json(200, hub.create_branch(repo, revision, headers))
            if method == "POST" and action == "preupload":
                return self.send_json(200, hub.preupload(repo, revision, json.loads(body), headers))
            if method == "POST" and action == "commit":
                lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                return self.send_json(200, hub.commit(repo, revision, lines, headers))
            if method == "GET" and action == "tree":
                recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
                return self.send_json(200, hub.tree(repo, revision, sub_path, recursive))
            if method == "POST" and action == "paths-info":
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    paths = json.loads(body).get("paths", [])
                else:
                    paths = parse_qs(body.decode()).get("paths", [])
                return self.send_json(200, hub.paths_info(repo, revision, paths))
            raise HubError(404, f"not implemented by the fake hub: {method} /api/.../{rest}")

        def send_file(self, repo: Repo, revision: str, path: str, method: str) -> None:
            commit = hub.find_commit(repo, revision)
            stored = commit.files.get(path)
            if stored is None:
                raise HubError(404, f"{path} does not exist at {revision}", "EntryNotFound")
            data = stored.content
            status, headers = (
                200,
                {
                    "X-Repo-Commit": commit.oid,
                    "ETag": f'"{stored.git_oid}"',
                    "Accept-Ranges": "bytes",
                    "Content-Type": "application/octet-stream",
                },
            )
            if stored.lfs:
                headers["X-Linked-Etag"] = f'"{stored.sha256}"'
                headers["X-Linked-Size"] = str(len(data))
            wanted = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if wanted:
                start = int(wanted[1])
                end = int(wanted[2]) if wanted[2] else len(data) - 1
                end = min(end, len(data) - 1)
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                data, status = data[start : end + 1], 206
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if method == "GET":
                self.wfile.write(data)

        def send_json(self, status: int, payload, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, quote(value, safe=" :/,.'\"()-_=;"))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler
