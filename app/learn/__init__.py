"""The learner's path: courses, lessons with their sources, quiz attempts, commitment, certificate."""
