"""Regular expressions the models share, written to mean the same to Python's `re` (msgspec decodes with
`re.search`) and to ECMA-262 (JSON Schema: the clients and the contract fuzzer read the spec with it).

Two differences matter. `$` also matches before a final newline in Python, so every pattern ends with
`END`, which refuses it in both. `\\s` differs (Python counts U+001C-U+001F and U+0085 as blanks, ECMA-262
counts U+FEFF), so where blanks are refused, list control characters and both sets of blanks outright
(`[^\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff]`).
"""

END = r"$(?!\n)"
