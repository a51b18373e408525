"""The layout every data source fills (the preference world, the paper's Stack Exchange data): split names,
the prompt template, the validation hold-out, the tokenizer trainer."""
