"""One adapter per Triton model of model_repository/; each model.py imports its TritonPythonModel from here."""
