"""The one place that imports private scikit-learn names (parameter validation), sklearn >= 1.6."""
from sklearn.utils._param_validation import Hidden, Interval, InvalidParameterError, StrOptions  # noqa: F401
from sklearn.utils.validation import validate_data  # noqa: F401
