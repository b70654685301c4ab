"""nn-autograder: otter for authoring and self-check; a trusted grader with a sandbox for grading."""

__version__ = "0.1.0"
