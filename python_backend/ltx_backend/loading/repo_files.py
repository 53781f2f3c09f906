"""Where a model's files come from: a local folder, or a Hugging Face repo through the hub's cache.

Both list their files (paths inside, '/'-separated) and `fetch` some of them, returning the folder they lie in.
A hub repo online: the listing is one call to the hub (HF_TOKEN honoured; a gated repo's access is checked
then, before anything is downloaded) and `fetch` downloads exactly the names asked for (allow_patterns; the
hub's progress bars) into the cache (HF_HOME). Offline (HF_HUB_OFFLINE=1, or the hub unreachable): the listing
is the cached snapshot's, and a name not there is an error naming the repo, the file and the
`ltx-triton download` command that fetches it. Every hub failure is a ModelPathError that says what to do.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ltx_backend.errors import LoadError

log = logging.getLogger(__name__)


class ModelPathError(LoadError):
    pass


class LocalFolder:
    def __init__(self, root: Path):
        self.root = root
        self.label = str(root)
        self.offline = False
        self.names = sorted(p.relative_to(root).as_posix() for pattern in ("*", "*/*") for p in root.glob(pattern) if p.is_file())

    def fetch(self, names: list[str]) -> Path:
        missing = [n for n in names if not (self.root / n).is_file()]
        if missing:
            raise ModelPathError(f"{self.label}: {', '.join(missing)} cannot be read")
        return self.root


def is_repo_id(model_path: str) -> bool:
    return model_path.count("/") == 1 and not model_path.startswith((".", "/", "~")) and all(model_path.split("/"))


class HubRepo:
    """A repo id, listed from the hub (or, offline, from the cache) at construction."""

    def __init__(self, repo_id: str, download_command: str):
        from huggingface_hub import constants

        self.repo_id, self.label, self.download_command = repo_id, repo_id, download_command
        self.offline = bool(constants.HF_HUB_OFFLINE)
        self.why_offline = "HF_HUB_OFFLINE=1"
        if not self.offline:
            self._list_online()
        if self.offline:
            self._list_cached()

    def _list_online(self) -> None:
        from huggingface_hub import HfApi

        try:
            api = HfApi()
            info = api.model_info(self.repo_id)
            if info.gated:  # the listing is public; the files are not: check access before downloading anything
                api.auth_check(self.repo_id)
        except Exception as error:  # noqa: BLE001 - sorted by _hub_error
            if not _unreachable(error):
                raise self.hub_error(error) from None
            log.warning("the Hugging Face Hub cannot be reached (%s): using the cache for %s", error, self.repo_id)
            self.offline, self.why_offline = True, "the hub cannot be reached"
            return
        self.names = sorted(s.rfilename for s in info.siblings or ())

    def hub_error(self, error: Exception) -> ModelPathError:
        from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

        if isinstance(error, GatedRepoError):
            return ModelPathError(
                f"{self.repo_id} is gated on the Hugging Face Hub: accept its terms at https://huggingface.co/{self.repo_id} "
                "with your account, then set HF_TOKEN (or run `huggingface-cli login`)"
            )
        if isinstance(error, RepositoryNotFoundError):
            return ModelPathError(f"invalid model repo {self.repo_id!r}: not found on the Hugging Face Hub (a private repo needs HF_TOKEN)")
        status = getattr(getattr(error, "response", None), "status_code", None) if isinstance(error, HfHubHTTPError) else None
        if status in (401, 403):
            return ModelPathError(f"the Hugging Face Hub refused {self.repo_id} ({status}): check HF_TOKEN ({error})")
        return ModelPathError(f"{self.repo_id}: the Hugging Face Hub failed ({type(error).__name__}: {error})")

    def _list_cached(self) -> None:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            self.snapshot: Path | None = Path(snapshot_download(self.repo_id, local_files_only=True))
        except LocalEntryNotFoundError:
            self.snapshot = None
        self.names = [] if self.snapshot is None else LocalFolder(self.snapshot).names

    def not_cached(self, what: str) -> ModelPathError:
        from huggingface_hub import constants

        return ModelPathError(
            f"{what} of {self.repo_id}: not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and {self.why_offline}: "
            f"run `{self.download_command}` where the hub can be reached"
        )

    def fetch(self, names: list[str]) -> Path:
        if self.offline:
            missing = [n for n in names if self.snapshot is None or not (self.snapshot / n).is_file()]
            if missing:
                raise self.not_cached(", ".join(missing))
            return self.snapshot
        from huggingface_hub import snapshot_download

        try:
            # By branch, not by the listed commit: the hub then records refs/main, which an offline run looks up.
            folder = Path(snapshot_download(self.repo_id, allow_patterns=list(names)))
        except Exception as error:  # noqa: BLE001 - every hub failure is said plainly
            raise self.hub_error(error) from None
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise ModelPathError(f"{self.repo_id}: {', '.join(missing)} listed by the hub but not downloaded")
        return folder


def _unreachable(error: Exception) -> bool:
    """The network or the hub is down (use the cache), as opposed to an answer (gated, not found, refused)."""
    import requests
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(error, (requests.ConnectionError, requests.Timeout, OfflineModeIsEnabled)):
        return True
    status = getattr(getattr(error, "response", None), "status_code", None) if isinstance(error, HfHubHTTPError) else None
    return status is not None and status >= 500
