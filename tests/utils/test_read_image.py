"""The one image reader of the datasets and the demo: pixels as cv2.imread, one-line errors."""
import cv2
import numpy as np
import pytest

from pose3d.datasets import base
from pose3d.demo_inputs import read_image as read_demo_image
from pose3d.utils.errors import DataFormatError, UserError
from pose3d.utils.io import read_image


@pytest.fixture
def jpeg(tmp_path):
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8), (5, 5), 0)
    path = tmp_path / "pic.jpg"
    cv2.imwrite(str(path), img)
    return path


@pytest.mark.parametrize("reduce, flag", [(1, cv2.IMREAD_COLOR), (2, cv2.IMREAD_REDUCED_COLOR_2),
                                          (4, cv2.IMREAD_REDUCED_COLOR_4), (3, cv2.IMREAD_COLOR)])
def test_pixels_match_imread(jpeg, reduce, flag):
    got = read_image(jpeg, reduce)
    assert got.dtype == np.uint8 and got.shape[2] == 3
    np.testing.assert_array_equal(got, cv2.imread(str(jpeg), flag))


def test_datasets_and_demo_share_the_reader(jpeg):
    assert base.read_image is read_image
    np.testing.assert_array_equal(read_demo_image(jpeg), read_image(jpeg))


def test_missing_and_damaged_files_are_one_line(tmp_path):
    with pytest.raises(DataFormatError) as err:
        read_image(tmp_path / "gone.jpg")
    assert str(err.value) == (f"{tmp_path / 'gone.jpg'}: image file is missing; check that the "
                              "dataset's images/ folder is complete")
    for content in (b"", b"not a picture"):
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(content)
        with pytest.raises(DataFormatError, match="not a readable image") as err:
            read_image(bad)
        assert "re-extract or delete this image" in str(err.value) and "\n" not in str(err.value)
        with pytest.raises(UserError, match=r"give a jpg/jpeg/png/bmp file with --demo"):
            read_demo_image(bad)
