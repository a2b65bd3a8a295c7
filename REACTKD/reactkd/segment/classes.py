"""Label values of the segmentation models (index = voxel label, = output channel)."""

SEG_CLASSES = ("background", "liver", "tumor")
"""Channel 1 is liver parenchyma without tumour; "liver" masks written for grading are 1 ∪ 2, the
convention of every liver mask in this project (the liver includes its tumours)."""
