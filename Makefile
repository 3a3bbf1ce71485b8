# The two commands of the README. Each sets itself up (idempotently) first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTEST_ARGS ?=

.PHONY: help setup test demo lint

help:
	@echo "make demo   run the node on the bundled demo bag and print a summary"
	@echo "make test   run the whole test suite against a real ROS 2 graph"

setup:
	@bash tools/setup_env.sh

lint: setup
	@source tools/env.sh && ruff check .

test: setup
	@bash tools/run_tests.sh $(PYTEST_ARGS)

demo: setup
	@bash tools/run_demo.sh
