"""Small programs to point `promptkit eval run` at, e.g.

    promptkit eval run examples/programs.py:cot --data ../shared/data/math/math500.jsonl --format math \
        --metric math_equiv --limit 20 --model fake --out runs/math-cot
"""

import dspy

# The seed's MATH module: think step by step, then answer.
cot = dspy.ChainOfThought("question -> answer")
# The same question without a reasoning step, to compare against: promptkit eval compare runs/a runs/b
predict = dspy.Predict("question -> answer")
