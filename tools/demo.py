"""Entry of `make demo` (run as a script so that loco_ros comes from the colcon install)."""

from loco_ros.ros.demo import main

if __name__ == "__main__":
    main()
