"""Training of the LoCO networks (VHA, code predictor, pose refiner); ROS-free."""
