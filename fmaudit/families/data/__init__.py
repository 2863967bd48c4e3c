"""Data governance (EU AI Act Art. 10(2)-(4)): is the data representative, complete, free of duplicates and
leaks, and is its test split like its training split, before the model's figures are trusted. Reads only the
prepared data, so it runs on every model source, a file of scores included."""
