"""pose3d: monocular 3D human pose estimation in the wild (Zhou et al., ICCV 2017), modern PyTorch."""

__version__ = "1.0.0"
