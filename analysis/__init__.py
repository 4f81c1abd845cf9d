"""Pure computations over DataFrames of counts: response profiles, results, suppression,
comparison and charts. Nothing here imports FastAPI or SQLAlchemy, so every function can be
tested alone, and every figure a person sees passes through here."""
