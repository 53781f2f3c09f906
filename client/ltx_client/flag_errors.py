"""An error as the command line's user reads it: the field it names (`invalid image_paths=...`, the name the
library and the server use) given as the flag that sets it (`invalid --image-path=...`)."""
from __future__ import annotations

import argparse
import re
import sys

# Request and load fields whose flag's dest has another name (the rest share theirs: width -> --width).
FIELD_DESTS = {
    "image_paths": "image_path",
    "image_frame_indices": "image_frame_index",
    "image_strengths": "image_strength",
    "video_conditioning_paths": "video_conditioning",
    "video_conditioning_strengths": "video_conditioning",
    "conditioning_attention_mask_path": "conditioning_attention_mask",
    "device_mode": "ltx2_two_stage_device_mode",
    "images": "image_path",  # the files' bytes, as a server names them (generate --url)
    "audio": "audio_path",
    "video": "video_path",
}
_FIELD = re.compile(r"^invalid ([a-z0-9_]+)=")


def flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """{field: its flag} for a (sub)command's parser: each option's dest (but a --no- flag's: its field reads better
    with the value), and the fields of FIELD_DESTS."""
    flags = {action.dest: max(action.option_strings, key=len) for action in parser._actions
             if action.option_strings and not any(o.startswith("--no-") for o in action.option_strings)}  # retake_audio=False, not --no-retake-audio=False
    return {**flags, **{field: flags[dest] for field, dest in FIELD_DESTS.items() if dest in flags}}


def as_flags(message: str, flags: dict[str, str]) -> str:
    """`invalid <field>=...` with the field's flag in its place, where the command has one."""
    match = _FIELD.match(message)
    if match and match[1] in flags:
        return f"invalid {flags[match[1]]}=" + message[match.end():]
    return message


def print_error(error: BaseException | str, args: argparse.Namespace) -> None:
    """`error: ...` on stderr, naming flags (`args.flag_names`, set by the command line's main)."""
    print(f"error: {as_flags(str(error), getattr(args, 'flag_names', {}))}", file=sys.stderr)
