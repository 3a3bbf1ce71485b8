"""Teacher labels of real footage from a pretrained offline pose model (MediaPipe BlazePose)."""
