"""docs/gallery/rfw.md: RFW's published accuracy table (four commercial APIs x four races, 6,000 pairs
each) checked to the printed digit by hand, with Wilson limits from scipy and error ratios by hand."""

from __future__ import annotations

from scipy.stats import binomtest

from misflag.gallery import PAGES, Check
from misflag.gallery._checks import published
from misflag.gallery._rfw import errors_of

#: Table 1 as read by hand: model -> accuracy % for LFW, Caucasian, Indian, Asian, African
TABLE = {
    "Microsoft": (98.22, 87.60, 82.83, 79.67, 75.83),
    "Face++": (97.03, 93.90, 88.55, 92.47, 87.50),
    "Baidu": (98.67, 89.13, 86.53, 90.27, 77.97),
    "Amazon": (98.50, 90.45, 87.20, 84.87, 86.27),
}
MEAN = (98.11, 90.27, 86.28, 86.82, 81.89)
RACES = ("Caucasian", "Indian", "Asian", "African")


def _checks() -> dict[str, Check]:
    checks, _ = PAGES["rfw"]()
    return {check.figure: check for check in checks}


def test_the_shipped_table_is_the_one_read_by_hand() -> None:
    rows = {
        (r["model"], r["test_set"]): float(r["accuracy_printed"]) for r in published("rfw_commercial_apis")
    }
    for model, values in [*TABLE.items(), ("mean", MEAN)]:
        assert tuple(rows[(model, test)] for test in ("LFW", *RACES)) == values


def test_the_printed_mean_row_follows_from_the_four_apis() -> None:
    checks = _checks()
    for index, test in enumerate(("LFW", *RACES)):
        mean = sum(values[index] for values in TABLE.values()) / 4
        check = checks[f"mean of the four APIs, {test} accuracy, %"]
        assert abs(check.value - mean) < 1e-9 and check.follows is True
        assert int(100 * mean + 0.5 + 1e-9) / 100 == MEAN[index]  # half up: 98.105 prints as 98.11


def test_each_accuracy_from_whole_pairs_with_its_interval_and_ratios() -> None:
    checks = _checks()
    for model, values in TABLE.items():
        errors = {}
        for race, accuracy in zip(RACES, values[1:], strict=True):
            wrong = 6000 - round(accuracy * 60)  # accuracy% of 6,000 pairs, to the nearest pair
            assert (
                f"{100 * (6000 - wrong) / 6000:.2f}" == f"{accuracy:.2f}"
                and errors_of(f"{accuracy:.2f}") == wrong
            )
            check = checks[f"{model}: {race} accuracy, %"]
            low, high = binomtest(6000 - wrong, 6000).proportion_ci(0.95, method="wilson")
            assert check.follows is True and abs(check.value - 100 * (6000 - wrong) / 6000) < 1e-9
            assert abs(check.interval[0] - 100 * low) < 1e-9 and abs(check.interval[1] - 100 * high) < 1e-9
            errors[race] = wrong
        for race in RACES[1:]:
            ratio = checks[f"{model}: {race} error rate / Caucasian's"]
            assert abs(ratio.value - errors[race] / errors["Caucasian"]) < 1e-12
            assert ratio.interval[0] < ratio.value < ratio.interval[1]
    baidu_asian = checks[
        "Baidu: Asian error rate / Caucasian's"
    ]  # the one race that errs less than Caucasian
    assert baidu_asian.value < 1 and baidu_asian.interval[1] < 1
    microsoft_african = checks["Microsoft: African error rate / Caucasian's"]
    assert round(microsoft_african.value, 2) == round(1450 / 744, 2) == 1.95
