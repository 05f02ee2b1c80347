"""The learning-path agent: a multi-course path to a learner's goal, re-planned as they progress."""
