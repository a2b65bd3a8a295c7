"""Training: two-stage REACT-KD (teachers, then the distilled student) over patient-level folds."""
