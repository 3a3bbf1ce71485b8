"""Camera handling: CameraInfo models and lens distortion (``lens``), which camera applies
to an image (``intrinsics``), image messages to RGB arrays (``image_input``)."""
