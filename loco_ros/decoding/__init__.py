"""From the decoded volume to metric people: the grid, the codec (training targets and
decoding), peaks, lifting to 3D, association into people, the refiner, the ground plane."""
