"""Label values of index masks shared by the readers, the predictor and the evaluator (no torch import:
the evaluator CLI runs without it)."""

# DAVIS / YouTube-VOS "void" label in index masks: object borders and unlabelled regions. Never an
# object id; ignored by the loss and by the J&F evaluation.
VOID_ID = 255
