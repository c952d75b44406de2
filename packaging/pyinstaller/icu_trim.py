"""Shrink Qt's ICU data library to what Qt reads (Linux builds, used by build.spec).

PySide6's ``libicudata.so.NN`` is ICU's whole data set, 31 MB: the biggest file in the
bundle. Qt 6 keeps its own locale data and reads ICU's for collation (QCollator), text
boundaries (line breaking, CJK and Thai dictionaries included), case mapping and
normalisation. So the parts only ICU's own formatting APIs read are dropped: unit,
currency, language, region and time-zone display names, transliteration, spelled-out
numbers, and the legacy codepage converters (Qt converts UTF-8/16 and Latin-1 itself).
What remains (11 MB) is rebuilt into a library of the same name and entry symbol with
ICU's own tools (``icupkg``, ``genccode``: Debian's icu-devtools). Without them, or if
anything fails, the library is left as it is and the build says so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

DROP = re.compile(r"^(unit|curr|lang|region|translit|rbnf|zone)/|\.cnv$")
TOOLS = ("icupkg", "genccode", "readelf", "cc")


def _data_bytes(lib: Path) -> tuple[str, bytes]:
    """(version, the data blob) from the library's ``icudtNN_dat`` symbol."""
    symbols = subprocess.run(["readelf", "--dyn-syms", "-W", str(lib)], capture_output=True,
                             text=True, check=True).stdout
    m = re.search(r"\s([0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+OBJECT\s+GLOBAL\s+\S+\s+\S+\s+icudt(\d+)_dat$",
                  symbols, re.MULTILINE)
    if not m:
        raise RuntimeError("no icudtNN_dat symbol")
    address, size, version = int(m.group(1), 16), int(m.group(2), 0), m.group(3)
    segments = subprocess.run(["readelf", "-lW", str(lib)], capture_output=True, text=True, check=True).stdout
    for line in segments.splitlines():
        fields = line.split()
        if fields[:1] == ["LOAD"]:
            offset, vaddr, filesz = int(fields[1], 16), int(fields[2], 16), int(fields[4], 16)
            if vaddr <= address < vaddr + filesz:
                start = address - vaddr + offset
                return version, lib.read_bytes()[start:start + size]
    raise RuntimeError("the data symbol is in no loaded segment")


def trim(lib: Path, workdir: Path) -> Path | None:
    """A trimmed copy of ``lib`` in ``workdir``, or None (the reason printed)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        print(f"ICU data not trimmed: {', '.join(missing)} not found (Debian: icu-devtools, binutils, gcc)")
        return None
    try:
        version, data = _data_bytes(lib)
        name = f"icudt{version}{'l' if sys.byteorder == 'little' else 'b'}"
        src, dst = workdir / "icu-src", workdir / "icu-dst"
        for folder in (src, dst):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        (src / f"{name}.dat").write_bytes(data)
        items = subprocess.run(["icupkg", "-l", str(src / f"{name}.dat")], capture_output=True,
                               text=True, check=True).stdout.split()
        (workdir / "icu-drop.txt").write_text("\n".join(i for i in items if DROP.search(i)) + "\n")
        subprocess.run(["icupkg", "-r", str(workdir / "icu-drop.txt"), str(src / f"{name}.dat"),
                        str(dst / f"{name}.dat")], check=True, capture_output=True)
        subprocess.run(["genccode", "-q", "-a", "gcc", "-e", f"icudt{version}", "-d", str(workdir),
                        str(dst / f"{name}.dat")], check=True, capture_output=True)
        out = workdir / lib.name
        subprocess.run(["cc", "-shared", "-nostdlib", f"-Wl,-soname,{lib.name}", "-o", str(out),
                        str(workdir / f"{name}_dat.S")], check=True, capture_output=True)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        print(f"ICU data not trimmed: {detail!s:.300}")
        return None
    print(f"ICU data trimmed: {lib.stat().st_size / 2**20:.1f} -> {out.stat().st_size / 2**20:.1f} MiB")
    return out
